// Model management over the wire: LoadModel's stream, ListModels/GetModel, load errors (the
// server keeps serving), requests waiting for room in a full KV cache or refused when it could
// never hold them, and UnloadModel waiting for a running generation while other models carry on.
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/format/gguf.h"
#include "core/format/gguf_writer.h"
#include "core/models/cuda_backend.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using ModelsTest = E2eTest;

struct LoadResult {
  grpc::Status status;
  std::vector<pb::LoadModelResponse> responses;
};

LoadResult LoadModel(pb::InferenceService::Stub& stub, const std::string& name,
                     const std::string& path, int64_t kv_cache_capacity_tokens = 0,
                     const std::string& device = "") {
  pb::LoadModelRequest request;
  request.set_name(name);
  request.set_path(path);
  request.set_kv_cache_capacity_tokens(kv_cache_capacity_tokens);
  request.set_device(device);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::LoadModelResponse>> reader =
      stub.LoadModel(&context, request);
  LoadResult result;
  pb::LoadModelResponse response;
  while (reader->Read(&response)) result.responses.push_back(response);
  result.status = reader->Finish();
  return result;
}

grpc::Status UnloadModel(pb::InferenceService::Stub& stub, const std::string& name) {
  pb::UnloadModelRequest request;
  request.set_name(name);
  pb::UnloadModelResponse response;
  grpc::ClientContext context;
  return stub.UnloadModel(&context, request, &response);
}

std::vector<std::string> ListedNames(pb::InferenceService::Stub& stub) {
  pb::ListModelsResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.ListModels(&context, pb::ListModelsRequest(), &response).ok());
  std::vector<std::string> names;
  for (const pb::ModelInfo& model : response.models()) names.push_back(model.name());
  return names;
}

grpc::Status GetModel(pb::InferenceService::Stub& stub, const std::string& name,
                      pb::ModelInfo* info) {
  pb::GetModelRequest request;
  request.set_name(name);
  pb::GetModelResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub.GetModel(&context, request, &response);
  *info = response.model();
  return status;
}

std::string ScratchPath(const std::string& name) {
  return ::testing::TempDir() + "/" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + name;
}

// A copy of the default model whose general.architecture names a family no build knows.
std::string WriteUnknownArchitectureCopy() {
  absl::StatusOr<std::unique_ptr<gguf::GgufFile>> original = gguf::GgufFile::Open(kModelPath);
  EXPECT_TRUE(original.ok()) << original.status();
  gguf::GgufWriter writer;
  for (const auto& [key, value] : (*original)->metadata()) {
    if (key == "general.alignment") continue;  // the writer lays out data at its own alignment
    if (key == "general.architecture") {
      writer.AddString(key, "tessera-test-unknown");
    } else {
      writer.AddValue(key, value);
    }
  }
  for (const gguf::TensorInfo& tensor : (*original)->tensors()) {
    const std::vector<int64_t> shape(tensor.dims.rbegin(), tensor.dims.rend());
    EXPECT_TRUE(writer.AddTensor(tensor.name, tensor.type, shape,
                                 std::string_view(static_cast<const char*>(tensor.data),
                                                  tensor.bytes))
                    .ok());
  }
  const std::string path = ScratchPath("unknown-arch.gguf");
  EXPECT_TRUE(writer.WriteFile(path).ok());
  return path;
}

// The server still generates on the default model.
void ExpectStillServing(pb::InferenceService::Stub& stub) {
  const GenerateResult result = Generate(stub, GreedyRequest("Lily", 4));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.token_ids.size(), 4u);
}

TEST_F(ModelsTest, LoadStreamsProgressThenInfo) {
  const LoadResult result = LoadModel(stub(), "second", kModelPath);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_GE(result.responses.size(), 2u);

  // Progress only, in stage order, then the model's info last.
  absl::StatusOr<std::unique_ptr<gguf::GgufFile>> file = gguf::GgufFile::Open(kModelPath);
  ASSERT_TRUE(file.ok()) << file.status();
  int64_t weight_bytes = 0;
  for (const gguf::TensorInfo& tensor : (*file)->tensors()) {
    weight_bytes += static_cast<int64_t>(tensor.bytes);
  }
  pb::LoadStage stage = pb::LOAD_STAGE_UNSPECIFIED;
  int64_t last_weights_read = -1;
  for (size_t i = 0; i + 1 < result.responses.size(); ++i) {
    ASSERT_TRUE(result.responses[i].has_progress()) << i;
    const pb::LoadProgress& progress = result.responses[i].progress();
    EXPECT_GE(progress.stage(), stage);
    stage = progress.stage();
    if (stage == pb::LOAD_STAGE_READING_WEIGHTS) {
      EXPECT_EQ(progress.bytes_total(), weight_bytes);
      EXPECT_LE(progress.bytes_read(), progress.bytes_total());
      last_weights_read = progress.bytes_read();
    }
  }
  EXPECT_EQ(result.responses.front().progress().stage(), pb::LOAD_STAGE_OPENING_FILE);
  EXPECT_EQ(last_weights_read, weight_bytes);

  ASSERT_TRUE(result.responses.back().has_model());
  const pb::ModelInfo& info = result.responses.back().model();
  EXPECT_EQ(info.name(), "second");
  EXPECT_EQ(info.path(), kModelPath);
  EXPECT_EQ(info.architecture(), "llama");
  EXPECT_EQ(info.vocab_size(), 512);

  pb::ModelInfo got;
  ASSERT_TRUE(GetModel(stub(), "second", &got).ok());
  EXPECT_EQ(got.SerializeAsString(), info.SerializeAsString());
  EXPECT_EQ(ListedNames(stub()), (std::vector<std::string>{"second", "stories"}));

  // The same file under two names generates the same.
  pb::GenerateRequest request = GreedyRequest("Once upon a time", 12);
  const GenerateResult on_default = Generate(stub(), request);
  request.set_model("second");
  const GenerateResult on_second = Generate(stub(), request);
  ASSERT_TRUE(on_second.status.ok()) << on_second.status.error_message();
  EXPECT_EQ(on_second.token_ids, on_default.token_ids);
}

TEST_F(ModelsTest, LoadErrors) {
  const LoadResult taken = LoadModel(stub(), kModel, kModelPath);
  ExpectError(taken.status, grpc::StatusCode::ALREADY_EXISTS, "MODEL_ALREADY_LOADED");

  const LoadResult bad_name = LoadModel(stub(), "no spaces", kModelPath);
  ExpectError(bad_name.status, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
  EXPECT_EQ(BadFieldOf(bad_name.status), "name");

  const LoadResult missing = LoadModel(stub(), "missing", ScratchPath("absent.gguf"));
  ExpectError(missing.status, grpc::StatusCode::NOT_FOUND, "MODEL_FILE_NOT_FOUND");

  EXPECT_EQ(ListedNames(stub()), std::vector<std::string>{kModel});
  ExpectStillServing(stub());
}

TEST_F(ModelsTest, UnknownDeviceIsInvalidArgumentNamingTheChoices) {
  for (const char* device : {"cuda:99", "tpu"}) {
    const LoadResult result = LoadModel(stub(), "elsewhere", kModelPath, 0, device);
    ExpectError(result.status, grpc::StatusCode::INVALID_ARGUMENT, "UNSUPPORTED_DEVICE");
    EXPECT_NE(result.status.error_message().find("\"cpu\""), std::string::npos)
        << result.status.error_message();
  }
  ExpectStillServing(stub());
}

// The same model on both backends generates the same greedy tokens (F32 weights are computed in
// full fp32 on the GPU too).
TEST_F(ModelsTest, GpuAndCpuCopiesGenerateTheSameTokens) {
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
  const LoadResult on_gpu = LoadModel(stub(), "on_gpu", kModelPath, 0, "cuda");
  ASSERT_TRUE(on_gpu.status.ok()) << on_gpu.status.error_message();
  const LoadResult on_cpu = LoadModel(stub(), "on_cpu", kModelPath, 0, "cpu");
  ASSERT_TRUE(on_cpu.status.ok()) << on_cpu.status.error_message();
  EXPECT_EQ(on_gpu.responses.back().model().device(), "cuda:0");
  EXPECT_EQ(on_cpu.responses.back().model().device(), "cpu");
  bool uploaded = false;
  for (const pb::LoadModelResponse& response : on_gpu.responses) {
    uploaded |= response.progress().stage() == pb::LOAD_STAGE_UPLOADING_WEIGHTS &&
                response.progress().bytes_total() > 0 &&
                response.progress().bytes_read() == response.progress().bytes_total();
  }
  EXPECT_TRUE(uploaded) << "no complete upload progress reported";

  pb::GenerateRequest request = GreedyRequest("Once upon a time", 100);
  request.set_model("on_gpu");
  const GenerateResult gpu = Generate(stub(), request);
  request.set_model("on_cpu");
  const GenerateResult cpu = Generate(stub(), request);
  ASSERT_TRUE(gpu.status.ok()) << gpu.status.error_message();
  ASSERT_TRUE(cpu.status.ok()) << cpu.status.error_message();
  EXPECT_EQ(gpu.token_ids, cpu.token_ids);
  EXPECT_EQ(gpu.text, cpu.text);
}

TEST_F(ModelsTest, MalformedFileIsInvalidModelFile) {
  const std::string path = ScratchPath("malformed.gguf");
  std::ofstream(path) << "GGUF but not really a model file";
  const LoadResult result = LoadModel(stub(), "malformed", path);
  ExpectError(result.status, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_MODEL_FILE");
  EXPECT_EQ(ListedNames(stub()), std::vector<std::string>{kModel});
  ExpectStillServing(stub());
}

TEST_F(ModelsTest, UnknownArchitectureIsUnimplemented) {
  const LoadResult result = LoadModel(stub(), "alien", WriteUnknownArchitectureCopy());
  ExpectError(result.status, grpc::StatusCode::UNIMPLEMENTED, "UNSUPPORTED_ARCHITECTURE");
  ExpectStillServing(stub());
}

TEST_F(ModelsTest, GetAndUnloadUnknownModel) {
  pb::ModelInfo info;
  ExpectError(GetModel(stub(), "ghost", &info), grpc::StatusCode::NOT_FOUND, "MODEL_NOT_FOUND");
  ExpectError(UnloadModel(stub(), "ghost"), grpc::StatusCode::NOT_FOUND, "MODEL_NOT_FOUND");
}

TEST_F(ModelsTest, FullKvCacheQueuesRequestsAndOthersCarryOn) {
  ASSERT_TRUE(LoadModel(stub(), "tiny", kModelPath, /*kv_cache_capacity_tokens=*/32).status.ok());
  // More than the whole cache: refused up front, as it could never run.
  pb::GenerateRequest too_big = GreedyRequest("Once upon a time", 40);
  too_big.set_model("tiny");
  ExpectError(Generate(stub(), too_big).status, grpc::StatusCode::INVALID_ARGUMENT,
              "EXCEEDS_KV_CACHE");

  // A session whose 30-token prompt holds the whole cache (the prompt and the next position
  // are reserved: 2 blocks), open after its first token: a generation that would fit alone
  // waits for it.
  pb::PrefillRequest prefill;
  prefill.set_model("tiny");
  prefill.mutable_prompt()->mutable_token_ids()->add_ids(1);  // BOS
  for (int i = 1; i < 30; ++i) prefill.mutable_prompt()->mutable_token_ids()->add_ids(300);
  prefill.mutable_stop()->set_max_tokens(2);
  pb::PrefillResponse session;
  grpc::ClientContext prefill_context;
  ASSERT_TRUE(stub().Prefill(&prefill_context, prefill, &session).ok());
  pb::GenerateRequest fits_alone = GreedyRequest("Once upon a time", 8);
  fits_alone.set_model("tiny");
  std::future<GenerateResult> waiting =
      std::async(std::launch::async, [&] { return Generate(stub(), fits_alone); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  ExpectStillServing(stub());

  pb::ReleaseSessionRequest release;
  release.set_session_id(session.session_id());
  pb::ReleaseSessionResponse released;
  grpc::ClientContext release_context;
  ASSERT_TRUE(stub().ReleaseSession(&release_context, release, &released).ok());
  const GenerateResult after = waiting.get();
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.token_ids.size(), 8u);
}

TEST_F(ModelsTest, UnloadWaitsForRunningGenerationWhileOtherModelsServe) {
  ASSERT_TRUE(LoadModel(stub(), "a", kModelPath).status.ok());
  ASSERT_TRUE(LoadModel(stub(), "b", kModelPath).status.ok());

  // A long generation on "a" whose client stops reading: it stays in flight until cancelled.
  pb::GenerateRequest long_request = GreedyRequest("Once upon a time", 0);
  long_request.set_model("a");
  long_request.set_request_id("long-on-a");
  long_request.mutable_stop()->set_ignore_eos(true);
  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  grpc::ClientContext generate_context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&generate_context, long_request);
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));

  std::unique_ptr<pb::InferenceService::Stub> admin = NewStub();
  pb::UnloadModelRequest unload;
  unload.set_name("a");
  pb::UnloadModelResponse unload_response;
  grpc::ClientContext unload_context;
  grpc::Status unload_status;
  absl::Notification unloaded;
  admin->async()->UnloadModel(&unload_context, &unload, &unload_response,
                              [&](grpc::Status status) {
                                unload_status = std::move(status);
                                unloaded.Notify();
                              });

  // The name goes at once; the unload itself waits for the generation.
  pb::ModelInfo info;
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (GetModel(*admin, "a", &info).ok() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ExpectError(GetModel(*admin, "a", &info), grpc::StatusCode::NOT_FOUND, "MODEL_NOT_FOUND");
  pb::GenerateRequest on_a = GreedyRequest("Lily", 4);
  on_a.set_model("a");
  ExpectError(Generate(*admin, on_a).status, grpc::StatusCode::NOT_FOUND, "MODEL_NOT_FOUND");
  EXPECT_FALSE(unloaded.WaitForNotificationWithTimeout(absl::Milliseconds(200)));

  pb::GenerateRequest on_b = GreedyRequest("Lily", 4);
  on_b.set_model("b");
  const GenerateResult b_result = Generate(*admin, on_b);
  EXPECT_TRUE(b_result.status.ok()) << b_result.status.error_message();
  EXPECT_EQ(b_result.token_ids.size(), 4u);

  pb::CancelRequest cancel;
  cancel.set_request_id("long-on-a");
  pb::CancelResponse cancel_response;
  grpc::ClientContext cancel_context;
  ASSERT_TRUE(admin->Cancel(&cancel_context, cancel, &cancel_response).ok());
  const GenerateResult rest = ReadAll(*reader);
  EXPECT_TRUE(rest.status.ok()) << rest.status.error_message();
  EXPECT_EQ(rest.finish_reason, pb::FINISH_REASON_CANCELLED);

  ASSERT_TRUE(unloaded.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(unload_status.ok()) << unload_status.error_message();
  EXPECT_EQ(ListedNames(*admin), (std::vector<std::string>{"b", "stories"}));
}

}  // namespace
}  // namespace tessera::e2e
