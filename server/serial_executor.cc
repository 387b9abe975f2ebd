#include "server/serial_executor.h"

#include <utility>

namespace tessera::server {

SerialExecutor::SerialExecutor() : thread_([this] { RunTasks(); }) {}

SerialExecutor::~SerialExecutor() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void SerialExecutor::Post(absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mutex_);
  tasks_.push_back(std::move(task));
}

bool SerialExecutor::HasTaskOrStopping() const { return stopping_ || !tasks_.empty(); }

void SerialExecutor::RunTasks() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(this, &SerialExecutor::HasTaskOrStopping));
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace tessera::server
