// BackgroundWork: runs tasks that must not hold a gRPC callback thread (loading a model, waiting
// for an unload to drain) on threads of their own, and waits for them all when destroyed.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace tessera::server {

class BackgroundWork {
 public:
  BackgroundWork() = default;
  // Waits until every task has returned.
  ~BackgroundWork();
  BackgroundWork(const BackgroundWork&) = delete;
  BackgroundWork& operator=(const BackgroundWork&) = delete;

  void Run(absl::AnyInvocable<void() &&> task);

 private:
  absl::Mutex mutex_;
  int running_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace tessera::server
