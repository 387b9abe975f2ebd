// SerialExecutor: one thread that runs posted tasks one at a time, in the order they were posted.
// The engine hands it the start of each stream write, so that gRPC's serialization and socket
// write overlap the next decode step instead of delaying it.
#pragma once

#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace tessera::server {

class SerialExecutor {
 public:
  SerialExecutor();
  // Runs every task already posted, then stops the thread.
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void Post(absl::AnyInvocable<void() &&> task);

 private:
  void RunTasks();
  bool HasTaskOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  absl::Mutex mutex_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace tessera::server
