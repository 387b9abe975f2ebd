// SetThreadCount / ThreadCount: an explicit count is kept, and 0 or less means one per core.
#include <omp.h>

#include <gtest/gtest.h>

#include <thread>

#include "kernels/cpu/ops.h"

namespace tessera::cpu {
namespace {

TEST(ThreadCountTest, KeepsExplicitCountAndDefaultsToOnePerCore) {
  const int original = ThreadCount();
  SetThreadCount(3);
  EXPECT_EQ(ThreadCount(), 3);
  SetThreadCount(1);
  EXPECT_EQ(ThreadCount(), 1);
  SetThreadCount(0);
  EXPECT_EQ(ThreadCount(), omp_get_num_procs());
  SetThreadCount(-2);
  EXPECT_EQ(ThreadCount(), omp_get_num_procs());
  SetThreadCount(original);
}

TEST(ThreadCountTest, ThreadsStartedLaterSeeTheCount) {
  // Models run on engine threads started after the server sets the count.
  const int original = ThreadCount();
  SetThreadCount(3);
  int seen = 0;
  std::thread([&] { seen = ThreadCount(); }).join();
  EXPECT_EQ(seen, 3);
  SetThreadCount(original);
}

}  // namespace
}  // namespace tessera::cpu
