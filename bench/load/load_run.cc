#include "bench/load/load_run.h"

#include <chrono>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "bench/load/arrivals.h"
#include "bench/load/generate_call.h"
#include "bench/load/token_timer.h"

namespace tessera::load {
namespace {

// The requests in flight and the records of those that have ended, shared between the thread
// that sends and gRPC's threads that end the streams.
class Outstanding {
 public:
  explicit Outstanding(int limit) : limit_(limit) {}

  // Takes a slot, waiting for one to free up when all are taken; true when it had to wait.
  bool Acquire() {
    absl::MutexLock lock(&mu_);
    const bool waited = in_flight_ >= limit_;
    mu_.Await(absl::Condition(this, &Outstanding::HasRoom));
    ++in_flight_;
    return waited;
  }

  // A measured request's record joins the figures; a warm-up request's is kept apart.
  void Release(RequestRecord record, bool measured) {
    absl::MutexLock lock(&mu_);
    if (measured) {
      records_.push_back(std::move(record));
      last_end_ = Clock::now();
    } else {
      warmup_records_.push_back(std::move(record));
    }
    --in_flight_;
  }

  void GiveBack() {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }

  // Waits until every request has ended.
  void Drain() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Outstanding::Idle));
  }

  std::vector<RequestRecord> TakeRecords() {
    absl::MutexLock lock(&mu_);
    return std::move(records_);
  }
  std::vector<RequestRecord> TakeWarmupRecords() {
    absl::MutexLock lock(&mu_);
    return std::move(warmup_records_);
  }
  Clock::time_point last_end() {
    absl::MutexLock lock(&mu_);
    return last_end_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ < limit_; }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; }

  absl::Mutex mu_;
  const int limit_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RequestRecord> records_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestRecord> warmup_records_ ABSL_GUARDED_BY(mu_);
  Clock::time_point last_end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

LoadResult RunLoad(const LoadPlan& plan,
                   const std::vector<inference::v1::InferenceService::Stub*>& stubs,
                   const std::function<inference::v1::GenerateRequest()>& next_request,
                   const std::function<void()>& at_measured_start) {
  LoadResult result;
  // Shared with the streams' callbacks, which may still be returning when Drain does.
  const auto outstanding = std::make_shared<Outstanding>(plan.max_in_flight);
  PoissonArrivals arrivals(plan.rate > 0 ? plan.rate : 1, plan.arrival_seed);
  const Clock::time_point start = Clock::now();
  // Both set as the first measured request goes out.
  Clock::time_point measured_start = start;
  Clock::time_point deadline = Clock::time_point::max();
  for (int64_t i = 0; plan.requests == 0 || i < plan.warmup + plan.requests; ++i) {
    if (plan.rate > 0) {
      const Clock::time_point arrival = start + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(arrivals.Next()));
      if (arrival >= deadline) break;
      std::this_thread::sleep_until(arrival);
      // An arrival before the deadline is sent, however long it waits for a slot.
      if (outstanding->Acquire() && i >= plan.warmup) ++result.held_by_cap;
    } else {
      if (Clock::now() >= deadline) break;
      outstanding->Acquire();
      if (Clock::now() >= deadline) {
        outstanding->GiveBack();
        break;
      }
    }
    const bool measured = i >= plan.warmup;
    if (i == plan.warmup) {
      if (at_measured_start) at_measured_start();
      measured_start = Clock::now();
      if (plan.duration.has_value()) {
        deadline = measured_start + absl::ToChronoNanoseconds(*plan.duration);
      }
    }
    GenerateCall::Start(*stubs[i % stubs.size()], next_request(), plan.request_timeout,
                        [outstanding, measured](RequestRecord record) {
                          outstanding->Release(std::move(record), measured);
                        });
  }
  outstanding->Drain();
  result.records = outstanding->TakeRecords();
  result.warmup_records = outstanding->TakeWarmupRecords();
  if (!result.records.empty()) {
    result.seconds =
        std::chrono::duration<double>(outstanding->last_end() - measured_start).count();
  }
  return result;
}

}  // namespace tessera::load
