#include "clients/cpp/interrupt_watcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace tessera::cli {
namespace {

constexpr char kInterrupted = 'i';
constexpr char kStop = 's';

// The watcher's pipe, for the signal handler; -1 when no watcher lives.
volatile sig_atomic_t interrupt_pipe = -1;

void OnSigint(int) {
  const int saved_errno = errno;
  const char byte = kInterrupted;
  if (interrupt_pipe >= 0) (void)!write(interrupt_pipe, &byte, 1);
  errno = saved_errno;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<void()> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {
  int fds[2];
  // Without a pipe Ctrl-C keeps its default effect of ending the process, which is still safe.
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  pipe_read_ = fds[0];
  pipe_write_ = fds[1];
  interrupt_pipe = pipe_write_;
  struct sigaction action {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &previous_action_);
  thread_ = std::thread([this] { Watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  if (pipe_write_ < 0) return;
  sigaction(SIGINT, &previous_action_, nullptr);
  interrupt_pipe = -1;
  const char byte = kStop;
  (void)!write(pipe_write_, &byte, 1);
  thread_.join();
  close(pipe_read_);
  close(pipe_write_);
}

void InterruptWatcher::Watch() {
  char byte = 0;
  while (true) {
    const ssize_t n = read(pipe_read_, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == kStop) return;
    on_interrupt_();
  }
}

}  // namespace tessera::cli
