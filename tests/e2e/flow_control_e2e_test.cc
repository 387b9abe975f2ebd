// Flow control: a client that stops reading holds its generation back instead of letting the
// server buffer without bound, and gets every token once it reads again.
#include <chrono>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

using FlowControlTest = E2eTest;

pb::GenerateRequest LongRequest(int max_tokens) {
  pb::GenerateRequest request = GreedyRequest("Once upon a time", max_tokens);
  request.mutable_stop()->set_ignore_eos(true);
  return request;
}

TEST_F(FlowControlTest, StalledClientHoldsTheGenerationBack) {
  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  pb::GenerateRequest request = LongRequest(0);
  request.set_request_id("stalled");
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&context, request);
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));
  // Unthrottled, the whole context takes about a second; stalled, it must not advance far.
  absl::SleepFor(absl::Milliseconds(500));

  pb::CancelRequest cancel;
  cancel.set_request_id("stalled");
  pb::CancelResponse cancelled;
  grpc::ClientContext cancel_context;
  EXPECT_TRUE(stub().Cancel(&cancel_context, cancel, &cancelled).ok());
  GenerateResult result;
  Gather(first, result);
  result = ReadAll(*reader, std::move(result));
  EXPECT_EQ(result.finish_reason, pb::FINISH_REASON_CANCELLED);
  EXPECT_LT(result.token_ids.size(), 500u);
}

TEST_F(FlowControlTest, StalledClientGetsEverythingOnceItReads) {
  const GenerateResult reference = Generate(stub(), LongRequest(600));
  ASSERT_TRUE(reference.status.ok()) << reference.status.error_message();
  ASSERT_EQ(reference.token_ids.size(), 600u);

  std::unique_ptr<pb::InferenceService::Stub> slow_reader = NewSlowReaderStub();
  grpc::ClientContext context;
  // A server that never resumed would hang here: fail instead.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      slow_reader->Generate(&context, LongRequest(600));
  pb::GenerateResponse first;
  ASSERT_TRUE(reader->Read(&first));
  absl::SleepFor(absl::Milliseconds(200));
  GenerateResult result;
  Gather(first, result);
  result = ReadAll(*reader, std::move(result));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.token_ids, reference.token_ids);
  EXPECT_EQ(result.text, reference.text);
  EXPECT_EQ(result.finish_reason, pb::FINISH_REASON_LENGTH);
}

}  // namespace
}  // namespace tessera::e2e
