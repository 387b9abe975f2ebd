// ModelRegistry with the real default model: load/get/list/unload by name, the name rule, a
// name reserved while it loads without blocking other models, and Unload waiting for handles.
#include "server/model_registry.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/util/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

const char kModelPath[] = TESSERA_MODELS_DIR "/stories260K.gguf";

EngineOptions DefaultModel() {
  EngineOptions options;
  options.path = kModelPath;
  return options;
}

void NoProgress(LoadStage, int64_t, int64_t) {}

std::vector<std::string> Names(const std::vector<ModelHandle>& handles) {
  std::vector<std::string> names;
  for (const ModelHandle& handle : handles) names.push_back(handle.name());
  return names;
}

// A load cancelled at `stage` (while reading weights, or after them while the model is built)
// ends CANCELLED, leaves no model behind, and frees the name.
void ExpectCancelledAt(LoadStage cancel_at) {
  ModelRegistry registry;
  std::atomic<bool> cancelled{false};
  EngineOptions options = DefaultModel();
  options.cancel_requested = &cancelled;
  absl::StatusOr<ModelHandle> loaded =
      registry.Load("m", options, [&](LoadStage stage, int64_t, int64_t) {
        if (stage == cancel_at) cancelled = true;
      });
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(registry.Get("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(registry.List().empty());
  EXPECT_TRUE(registry.Load("m", DefaultModel(), NoProgress).ok());
}

TEST(ModelRegistryTest, LoadCancelledWhileReadingWeightsLeavesNothing) {
  ExpectCancelledAt(LoadStage::kReadingWeights);
}

TEST(ModelRegistryTest, LoadCancelledAfterTheWeightsLeavesNothing) {
  ExpectCancelledAt(LoadStage::kBuildingModel);
}

TEST(ModelRegistryTest, LoadGetListUnload) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Load("b-model", DefaultModel(), NoProgress).ok());
  absl::StatusOr<ModelHandle> loaded = registry.Load("a-model", DefaultModel(), NoProgress);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->name(), "a-model");
  EXPECT_EQ(loaded->engine().tokenizer().vocab_size(), 512);

  absl::StatusOr<ModelHandle> got = registry.Get("a-model");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(&got->engine(), &loaded->engine());
  EXPECT_THAT(Names(registry.List()), ElementsAre("a-model", "b-model"));

  loaded = absl::UnknownError("drop the handle");
  got = absl::UnknownError("drop the handle");
  EXPECT_TRUE(registry.Unload("a-model").ok());
  const absl::Status gone = registry.Get("a-model").status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(gone), "MODEL_NOT_FOUND");
  EXPECT_THAT(Names(registry.List()), ElementsAre("b-model"));
}

TEST(ModelRegistryTest, UnknownNamesAreNotFound) {
  ModelRegistry registry;
  EXPECT_EQ(ErrorReasonOf(registry.Get("missing").status()), "MODEL_NOT_FOUND");
  const absl::Status unload = registry.Unload("missing");
  EXPECT_EQ(unload.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(unload), "MODEL_NOT_FOUND");
}

TEST(ModelRegistryTest, NameRule) {
  for (const std::string& good : {std::string("a"), std::string("Stories-260K_v1.0"),
                                  std::string(128, 'x')}) {
    EXPECT_TRUE(ModelRegistry::ValidateName(good).ok()) << good;
  }
  for (const std::string& bad : {std::string(""), std::string(129, 'x'), std::string("a/b"),
                                 std::string("white space"), std::string("caf\xc3\xa9")}) {
    const absl::Status status = ModelRegistry::ValidateName(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FieldOf(status), "name") << bad;
  }
  ModelRegistry registry;
  EXPECT_EQ(registry.Load("no/slashes", DefaultModel(), NoProgress).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelRegistryTest, SecondLoadOfANameIsAlreadyExists) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Load("m", DefaultModel(), NoProgress).ok());
  const absl::Status again = registry.Load("m", DefaultModel(), NoProgress).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorReasonOf(again), "MODEL_ALREADY_LOADED");
}

TEST(ModelRegistryTest, FailedLoadFreesTheName) {
  ModelRegistry registry;
  EngineOptions missing;
  missing.path = TESSERA_MODELS_DIR "/no-such-model.gguf";
  const absl::Status status = registry.Load("m", missing, NoProgress).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(status), "MODEL_FILE_NOT_FOUND");
  EXPECT_TRUE(registry.List().empty());
  EXPECT_TRUE(registry.Load("m", DefaultModel(), NoProgress).ok());
}

// A load in progress holds its name, but other models keep serving meanwhile.
TEST(ModelRegistryTest, LoadingReservesTheNameWithoutBlockingOthers) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Load("ready", DefaultModel(), NoProgress).ok());
  absl::Notification load_started;
  absl::Notification let_load_finish;
  std::thread loader([&] {
    bool first = true;
    auto progress = [&](LoadStage, int64_t, int64_t) {
      if (!std::exchange(first, false)) return;
      load_started.Notify();
      let_load_finish.WaitForNotification();
    };
    EXPECT_TRUE(registry.Load("slow", DefaultModel(), progress).ok());
  });
  load_started.WaitForNotification();

  EXPECT_EQ(ErrorReasonOf(registry.Load("slow", DefaultModel(), NoProgress).status()),
            "MODEL_ALREADY_LOADED");
  EXPECT_EQ(ErrorReasonOf(registry.Get("slow").status()), "MODEL_NOT_FOUND");
  EXPECT_TRUE(registry.Get("ready").ok());
  EXPECT_THAT(Names(registry.List()), ElementsAre("ready"));

  let_load_finish.Notify();
  loader.join();
  EXPECT_TRUE(registry.Get("slow").ok());
}

TEST(ModelRegistryTest, UnloadRemovesTheNameAtOnceAndWaitsForHandles) {
  ModelRegistry registry;
  std::optional<ModelHandle> held = *registry.Load("m", DefaultModel(), NoProgress);
  std::atomic<bool> unloaded = false;
  std::thread unloader([&] {
    EXPECT_TRUE(registry.Unload("m").ok());
    unloaded = true;
  });
  while (!held->unloading()) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(ErrorReasonOf(registry.Get("m").status()), "MODEL_NOT_FOUND");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(unloaded);
  // The engine still works for the holder.
  EXPECT_FALSE(held->engine().tokenizer().Encode("Once").empty());
  held.reset();
  unloader.join();
  EXPECT_TRUE(unloaded);
}

TEST(ModelRegistryTest, ReleaseHeldRunsAfterRemovalAndBeforeTheWait) {
  ModelRegistry registry;
  std::optional<ModelHandle> kept_elsewhere = *registry.Load("m", DefaultModel(), NoProgress);
  bool called = false;
  const absl::Status status = registry.Unload("m", [&] {
    called = true;
    EXPECT_EQ(registry.Get("m").status().code(), absl::StatusCode::kNotFound);
    kept_elsewhere.reset();  // without this the Unload would wait forever
  });
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(called);
}

TEST(ModelRegistryTest, ConcurrentGetsWhileUnloading) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Load("m", DefaultModel(), NoProgress).ok());
  constexpr int kThreads = 4;
  std::atomic<int> served = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&] {
      for (;;) {
        absl::StatusOr<ModelHandle> handle = registry.Get("m");
        if (!handle.ok()) {
          EXPECT_EQ(ErrorReasonOf(handle.status()), "MODEL_NOT_FOUND");
          return;
        }
        // Use the engine while holding the handle.
        EXPECT_FALSE(handle->engine().tokenizer().Encode("upon a time").empty());
        ++served;
      }
    });
  }
  while (served < 100) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(registry.Unload("m").ok());
  for (std::thread& reader : readers) reader.join();
  EXPECT_TRUE(registry.List().empty());
}

TEST(ModelRegistryTest, ServingCallbackHearsEveryChangeInOrder) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.Load("before", DefaultModel(), NoProgress).ok());
  std::vector<std::pair<std::string, bool>> changes;
  registry.SetServingCallback(
      [&](const std::string& name, bool serving) { changes.emplace_back(name, serving); });
  ASSERT_TRUE(registry.Load("after", DefaultModel(), NoProgress).ok());
  ASSERT_TRUE(registry.Unload("before").ok());
  registry.SetServingCallback(nullptr);
  ASSERT_TRUE(registry.Unload("after").ok());
  EXPECT_THAT(changes, ElementsAre(Pair("before", true), Pair("after", true),
                                   Pair("before", false)));
}

}  // namespace
}  // namespace tessera::server
