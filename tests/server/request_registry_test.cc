// RequestRegistry: ids unique among running requests, server-assigned ids, Cancel reaching the
// registered function until the registration ends.
#include "server/request_registry.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"

namespace tessera::server {
namespace {

TEST(RequestRegistryTest, CancelCallsTheRegisteredFunction) {
  RequestRegistry registry;
  int cancels = 0;
  absl::StatusOr<RequestRegistry::Registration> registration =
      registry.Register("req-1", [&] { ++cancels; });
  ASSERT_TRUE(registration.ok());
  EXPECT_EQ(registration->id(), "req-1");
  EXPECT_TRUE(registry.Cancel("req-1").ok());
  EXPECT_EQ(cancels, 1);
}

TEST(RequestRegistryTest, UnknownIdIsNotFound) {
  RequestRegistry registry;
  const absl::Status status = registry.Cancel("nobody");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(status), "REQUEST_NOT_FOUND");
}

TEST(RequestRegistryTest, RunningIdCannotBeRegisteredTwice) {
  RequestRegistry registry;
  absl::StatusOr<RequestRegistry::Registration> first = registry.Register("same", [] {});
  ASSERT_TRUE(first.ok());
  absl::StatusOr<RequestRegistry::Registration> second = registry.Register("same", [] {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorReasonOf(second.status()), "DUPLICATE_REQUEST_ID");
}

TEST(RequestRegistryTest, FinishedIdIsForgottenAndFreeAgain) {
  RequestRegistry registry;
  int cancels = 0;
  {
    absl::StatusOr<RequestRegistry::Registration> registration =
        registry.Register("done", [&] { ++cancels; });
    ASSERT_TRUE(registration.ok());
  }
  EXPECT_EQ(registry.Cancel("done").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cancels, 0);
  EXPECT_TRUE(registry.Register("done", [] {}).ok());
}

TEST(RequestRegistryTest, ResetUnregistersOnceAndMoveKeepsTheId) {
  RequestRegistry registry;
  absl::StatusOr<RequestRegistry::Registration> registration = registry.Register("r", [] {});
  ASSERT_TRUE(registration.ok());
  RequestRegistry::Registration moved = *std::move(registration);
  EXPECT_EQ(moved.id(), "r");
  EXPECT_TRUE(registry.Cancel("r").ok());
  moved.Reset();
  EXPECT_EQ(registry.Cancel("r").code(), absl::StatusCode::kNotFound);
  // A second registration under the same id must survive the first one's second Reset.
  absl::StatusOr<RequestRegistry::Registration> again = registry.Register("r", [] {});
  ASSERT_TRUE(again.ok());
  moved.Reset();
  EXPECT_TRUE(registry.Cancel("r").ok());
}

TEST(RequestRegistryTest, EmptyIdGetsAFreshRandomOne) {
  RequestRegistry registry;
  absl::StatusOr<RequestRegistry::Registration> a = registry.Register("", [] {});
  absl::StatusOr<RequestRegistry::Registration> b = registry.Register("", [] {});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->id(), b->id());
  for (const std::string& id : {a->id(), b->id()}) {
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(registry.Cancel(id).ok());
  }
}

TEST(RequestRegistryTest, ConcurrentRegistrationsOfTheSameIdAdmitOne) {
  RequestRegistry registry;
  constexpr int kThreads = 8;
  std::atomic<int> admitted = 0;
  std::vector<RequestRegistry::Registration> kept(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<RequestRegistry::Registration> registration =
          registry.Register("contested", [] {});
      if (registration.ok()) {
        ++admitted;
        kept[t] = *std::move(registration);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 1);
}

}  // namespace
}  // namespace tessera::server
