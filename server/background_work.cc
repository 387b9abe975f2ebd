#include "server/background_work.h"

#include <thread>
#include <utility>

namespace tessera::server {

BackgroundWork::~BackgroundWork() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(+[](int* running) { return *running == 0; }, &running_));
}

void BackgroundWork::Run(absl::AnyInvocable<void() &&> task) {
  {
    absl::MutexLock lock(&mutex_);
    ++running_;
  }
  std::thread([this, task = std::move(task)]() mutable {
    // The task and what it captured are gone before the destructor may return.
    std::exchange(task, nullptr)();
    absl::MutexLock lock(&mutex_);
    --running_;
  }).detach();
}

}  // namespace tessera::server
