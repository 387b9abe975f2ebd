#include "server/serial_executor.h"

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::server {
namespace {

using ::testing::ElementsAre;

TEST(SerialExecutorTest, RunsTasksInPostedOrderOnAnotherThread) {
  std::vector<int> order;
  std::thread::id runner;
  absl::Notification done;
  SerialExecutor executor;
  for (int i = 0; i < 3; ++i) {
    executor.Post([&order, &runner, i] {
      order.push_back(i);
      runner = std::this_thread::get_id();
    });
  }
  executor.Post([&done] { done.Notify(); });
  done.WaitForNotification();
  EXPECT_THAT(order, ElementsAre(0, 1, 2));
  EXPECT_NE(runner, std::this_thread::get_id());
}

TEST(SerialExecutorTest, DestructorRunsTasksStillQueued) {
  std::vector<int> order;
  absl::Notification release;
  {
    SerialExecutor executor;
    // The first task holds the thread until the others are queued behind it.
    executor.Post([&release] { release.WaitForNotification(); });
    executor.Post([&order] { order.push_back(1); });
    executor.Post([&order] { order.push_back(2); });
    release.Notify();
  }
  EXPECT_THAT(order, ElementsAre(1, 2));
}

}  // namespace
}  // namespace tessera::server
