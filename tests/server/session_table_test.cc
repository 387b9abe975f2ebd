// SessionTable with the real default model: ids, leases (busy), release, expiry by the sweeper
// (whose released sessions give their KV cache back), and release of a model's sessions.
#include "server/session_table.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "core/util/error_reason.h"
#include "gtest/gtest.h"

namespace tessera::server {
namespace {

void NoProgress(LoadStage, int64_t, int64_t) {}

class SessionTableTest : public ::testing::Test {
 protected:
  // One full context of KV cache: a second sequence without max_tokens does not fit.
  static constexpr int64_t kKvCapacity = 2048;

  void SetUp() override {
    EngineOptions options;
    options.path = TESSERA_MODELS_DIR "/stories260K.gguf";
    options.kv_cache_capacity_tokens = kKvCapacity;
    ASSERT_TRUE(models_.Load("m", options, NoProgress).ok());
    ASSERT_TRUE(models_.Load("other", options, NoProgress).ok());
  }

  ModelHandle Model(const std::string& name) { return *models_.Get(name); }

  // A sequence whose prompt fills the context, so that its KV cache reserves every block.
  absl::StatusOr<std::shared_ptr<Sequence>> FullContextSequence(const std::string& model) {
    Engine& engine = Model(model).engine();
    std::vector<int32_t> prompt(engine.model_info().context_length - 1, 300);
    prompt[0] = 1;  // BOS
    GenerationRequest request;
    request.prompt = std::move(prompt);
    return engine.CreateSequence(std::move(request));
  }

  ModelRegistry models_;
};

TEST_F(SessionTableTest, AddThenAcquireGivesTheSession) {
  SessionTable table(absl::Minutes(10));
  std::shared_ptr<Sequence> sequence = *FullContextSequence("m");
  absl::StatusOr<std::string> id = table.Add(Model("m"), sequence, "req-7", true);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->size(), 32u);
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);

  absl::StatusOr<SessionTable::Lease> lease = table.Acquire(*id);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->session().sequence(), sequence);
  EXPECT_EQ(lease->session().request_id(), "req-7");
  EXPECT_TRUE(lease->session().with_logprobs());
  EXPECT_EQ(lease->session().model().name(), "m");
}

TEST_F(SessionTableTest, IdsDiffer) {
  SessionTable table(absl::Minutes(10));
  GenerationRequest small;
  small.prompt = std::string("Once");
  small.stop.max_tokens = 4;
  std::string a = *table.Add(Model("m"), *Model("m").engine().CreateSequence(small), "a", false);
  std::string b = *table.Add(Model("m"), *Model("m").engine().CreateSequence(small), "b", false);
  EXPECT_NE(a, b);
  EXPECT_EQ(table.size(), 2u);
}

TEST_F(SessionTableTest, LeasedSessionIsBusy) {
  SessionTable table(absl::Minutes(10));
  const std::string id = *table.Add(Model("m"), *FullContextSequence("m"), "r", false);
  std::optional<SessionTable::Lease> lease = *table.Acquire(id);
  const absl::Status busy = table.Acquire(id).status();
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(busy), "SESSION_BUSY");
  lease.reset();
  EXPECT_TRUE(table.Acquire(id).ok());
}

TEST_F(SessionTableTest, UnknownAndReleasedSessionsAreNotFound) {
  SessionTable table(absl::Minutes(10));
  const absl::Status unknown = table.Acquire("0123").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(unknown), "SESSION_NOT_FOUND");

  const std::string id = *table.Add(Model("m"), *FullContextSequence("m"), "r", false);
  EXPECT_TRUE(table.Release(id).ok());
  EXPECT_EQ(ErrorReasonOf(table.Acquire(id).status()), "SESSION_NOT_FOUND");
  EXPECT_EQ(ErrorReasonOf(table.Release(id)), "SESSION_NOT_FOUND");
}

// The released session's sequence must be gone, so its KV cache is free for the next one.
TEST_F(SessionTableTest, ReleaseFreesTheKvCache) {
  SessionTable table(absl::Minutes(10));
  const std::string id = *table.Add(Model("m"), *FullContextSequence("m"), "r", false);
  EXPECT_EQ(Model("m").engine().kv_cache_free_tokens(), 0);
  ASSERT_TRUE(table.Release(id).ok());
  EXPECT_EQ(Model("m").engine().kv_cache_free_tokens(), kKvCapacity);
}

TEST_F(SessionTableTest, IdleSessionsExpireAndFreeTheirKvCache) {
  SessionTable table(absl::Milliseconds(50));
  std::shared_ptr<Sequence> sequence = *FullContextSequence("m");
  std::weak_ptr<Sequence> watched = sequence;
  const std::string id = *table.Add(Model("m"), std::move(sequence), "r", false);
  // The sweeper releases it without anyone looking it up.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (!watched.expired() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(watched.expired());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(ErrorReasonOf(table.Acquire(id).status()), "SESSION_NOT_FOUND");
  EXPECT_EQ(Model("m").engine().kv_cache_free_tokens(), kKvCapacity);
}

TEST_F(SessionTableTest, LeasedSessionsDoNotExpireAndIdleTimeCountsFromTheLeasesEnd) {
  SessionTable table(absl::Milliseconds(100));
  const std::string id = *table.Add(Model("m"), *FullContextSequence("m"), "r", false);
  {
    SessionTable::Lease lease = *table.Acquire(id);
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_EQ(table.size(), 1u);
  }
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(table.Acquire(id).ok());
}

TEST_F(SessionTableTest, ReleaseAllForModelKeepsOtherModelsSessions) {
  SessionTable table(absl::Minutes(10));
  const std::string on_m = *table.Add(Model("m"), *FullContextSequence("m"), "a", false);
  const std::string on_other =
      *table.Add(Model("other"), *FullContextSequence("other"), "b", false);
  table.ReleaseAllForModel("m");
  EXPECT_EQ(ErrorReasonOf(table.Acquire(on_m).status()), "SESSION_NOT_FOUND");
  EXPECT_TRUE(table.Acquire(on_other).ok());
}

// A Prefill that finishes while its model unloads must not leave a session (and a handle) behind.
TEST_F(SessionTableTest, AddRefusesAModelBeingUnloaded) {
  SessionTable table(absl::Minutes(10));
  std::optional<ModelHandle> model = Model("m");
  std::shared_ptr<Sequence> sequence = *FullContextSequence("m");
  const absl::Status unloaded = models_.Unload("m", [&] {
    table.ReleaseAllForModel("m");
    const absl::Status added = table.Add(*std::move(model), std::move(sequence), "r", false).status();
    EXPECT_EQ(added.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(ErrorReasonOf(added), "MODEL_NOT_FOUND");
    model.reset();
  });
  EXPECT_TRUE(unloaded.ok());
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace tessera::server
