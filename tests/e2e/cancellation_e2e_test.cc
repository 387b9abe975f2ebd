// Stopping a Generate: Cancel from another connection, the client cancelling, a client
// deadline; in every case the server stops the generation and keeps serving.
#include <chrono>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using CancellationTest = E2eTest;

// A generation that runs until the context is full; on a slow-reader stub whose client stops
// reading, it stays in flight until cancelled.
pb::GenerateRequest EndlessRequest(const std::string& request_id) {
  pb::GenerateRequest request;
  request.set_model(kModel);
  request.set_request_id(request_id);
  request.mutable_prompt()->set_text("Once upon a time");
  request.mutable_stop()->set_ignore_eos(true);
  return request;
}

grpc::Status CancelRequest(pb::InferenceService::Stub& stub, const std::string& request_id) {
  pb::CancelRequest request;
  request.set_request_id(request_id);
  pb::CancelResponse response;
  grpc::ClientContext context;
  return stub.Cancel(&context, request, &response);
}

// Waits until Cancel no longer finds `request_id` running; false if it still runs after 5 s.
bool WaitUntilNotRunning(pb::InferenceService::Stub& stub, const std::string& request_id) {
  // A Cancel that finds it would stop it: probe with an id that cannot be running instead.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (absl::Now() < give_up) {
    pb::GenerateRequest probe = EndlessRequest(request_id);
    probe.mutable_stop()->set_max_tokens(1);
    const GenerateResult result = Generate(stub, probe);
    if (result.status.ok()) return true;  // the id was free again
    EXPECT_EQ(ErrorInfoOf(result.status).reason(), "DUPLICATE_REQUEST_ID");
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// The server still answers a fresh request correctly.
void ExpectStillServing(pb::InferenceService::Stub& stub) {
  const GenerateResult result = Generate(stub, GreedyRequest("Lily", 5));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.token_ids.size(), 5u);
}

TEST_F(CancellationTest, CancelFromAnotherConnectionEndsTheStreamWithCancelled) {
  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&context, EndlessRequest("cancel-me"));
  GenerateResult result;
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));
  Gather(first, result);
  EXPECT_EQ(first.request_id(), "cancel-me");

  std::unique_ptr<pb::InferenceService::Stub> other = NewStub();
  const grpc::Status cancelled = CancelRequest(*other, "cancel-me");
  EXPECT_TRUE(cancelled.ok()) << cancelled.error_message();

  result = ReadAll(*reader, std::move(result));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.finish_reason, pb::FINISH_REASON_CANCELLED);
  EXPECT_EQ(result.responses.back().request_id(), "cancel-me");
  EXPECT_EQ(result.usage.completion_tokens(), static_cast<int32_t>(result.token_ids.size()));
  EXPECT_LT(result.token_ids.size(), 1000u);

  // Finished: a second Cancel finds nothing.
  ExpectError(CancelRequest(*other, "cancel-me"), grpc::StatusCode::NOT_FOUND,
              "REQUEST_NOT_FOUND");
  ExpectStillServing(stub());
}

TEST_F(CancellationTest, DuplicateRunningIdIsRejected) {
  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&context, EndlessRequest("only-once"));
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));

  const GenerateResult duplicate = Generate(*NewStub(), EndlessRequest("only-once"));
  ExpectError(duplicate.status, grpc::StatusCode::ALREADY_EXISTS, "DUPLICATE_REQUEST_ID");

  ASSERT_TRUE(CancelRequest(stub(), "only-once").ok());
  EXPECT_EQ(ReadAll(*reader).finish_reason, pb::FINISH_REASON_CANCELLED);
}

TEST_F(CancellationTest, ClientCancelStopsTheGeneration) {
  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&context, EndlessRequest("client-cancels"));
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));
  context.TryCancel();
  const GenerateResult result = ReadAll(*reader);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::CANCELLED);

  EXPECT_TRUE(WaitUntilNotRunning(*NewStub(), "client-cancels"));
  ExpectStillServing(stub());
}

TEST_F(CancellationTest, DeadlineExceededStopsTheGeneration) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      stub().Generate(&context, EndlessRequest("short-deadline"));
  // Read slowly, so the deadline passes long before the context fills.
  pb::GenerateResponse response;
  while (reader->Read(&response)) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  EXPECT_TRUE(WaitUntilNotRunning(*NewStub(), "short-deadline"));
  ExpectStillServing(stub());
}

}  // namespace
}  // namespace tessera::e2e
