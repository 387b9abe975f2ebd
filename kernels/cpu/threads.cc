// How many OpenMP threads the parallel CPU kernels use. OpenMP's own setting is per calling
// thread, and models run on engine threads the server starts later, so the count lives here
// and every parallel region names it.
#include <omp.h>

#include <atomic>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {
namespace {
std::atomic<int> thread_count{0};  // 0: not set, one per core
}  // namespace

void SetThreadCount(int n) { thread_count.store(n > 0 ? n : 0); }

int ThreadCount() {
  const int n = thread_count.load();
  return n > 0 ? n : omp_get_num_procs();
}

}  // namespace tessera::cpu
