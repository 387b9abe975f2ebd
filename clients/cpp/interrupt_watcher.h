// Turns Ctrl-C (SIGINT) into a callback on an ordinary thread, where it may make gRPC calls; a
// signal handler itself may only do async-signal-safe work, so it just writes a byte to a pipe.
// While a watcher lives, Ctrl-C no longer ends the process. One watcher at a time.
#pragma once

#include <signal.h>

#include <functional>
#include <thread>

namespace tessera::cli {

class InterruptWatcher {
 public:
  // Calls `on_interrupt` once per Ctrl-C, on the watcher's thread.
  explicit InterruptWatcher(std::function<void()> on_interrupt);
  // Restores the previous SIGINT handling and joins the thread.
  ~InterruptWatcher();

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

 private:
  void Watch();

  std::function<void()> on_interrupt_;
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  struct sigaction previous_action_ {};
  std::thread thread_;
};

}  // namespace tessera::cli
