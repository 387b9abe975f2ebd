#include "bench/load/ordinary_tokens.h"

#include <algorithm>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace tessera::load {
namespace {

namespace pb = ::tessera::inference::v1;

// Ids drawn for the round trip: enough to reach most of a small vocabulary and tens of
// thousands of distinct ids of a large one, in one message of well under gRPC's 4 MB limit.
constexpr int kDrawnTokens = 32768;

std::unique_ptr<grpc::ClientContext> Context(std::optional<absl::Duration> timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (timeout.has_value()) context->set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& call) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(call, ": ", status.error_message()));
}

}  // namespace

absl::StatusOr<ModelFacts> ReadModelFacts(pb::InferenceService::Stub& stub,
                                          const std::string& model, uint64_t seed,
                                          std::optional<absl::Duration> timeout) {
  ModelFacts facts;
  pb::GetModelRequest model_request;
  model_request.set_name(model);
  pb::GetModelResponse model_response;
  if (grpc::Status s = stub.GetModel(Context(timeout).get(), model_request, &model_response);
      !s.ok()) {
    return FromGrpc(s, absl::StrCat("GetModel(", model, ")"));
  }
  facts.vocab_size = model_response.model().vocab_size();
  facts.context_length = model_response.model().context_length();
  if (facts.vocab_size < 1) {
    return absl::FailedPreconditionError(absl::StrCat("model ", model, ": an empty vocabulary"));
  }

  pb::DetokenizeRequest detokenize;
  detokenize.set_model(model);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> any_id(0, facts.vocab_size - 1);
  for (int i = 0; i < kDrawnTokens; ++i) detokenize.add_token_ids(any_id(rng));
  pb::DetokenizeResponse text;
  if (grpc::Status s = stub.Detokenize(Context(timeout).get(), detokenize, &text); !s.ok()) {
    return FromGrpc(s, "Detokenize");
  }

  pb::TokenizeRequest tokenize;
  tokenize.set_model(model);
  tokenize.set_text(text.text());
  tokenize.set_add_special_tokens(false);
  pb::TokenizeResponse tokens;
  if (grpc::Status s = stub.Tokenize(Context(timeout).get(), tokenize, &tokens); !s.ok()) {
    return FromGrpc(s, "Tokenize");
  }
  facts.ordinary_tokens.assign(tokens.token_ids().begin(), tokens.token_ids().end());
  std::sort(facts.ordinary_tokens.begin(), facts.ordinary_tokens.end());
  facts.ordinary_tokens.erase(
      std::unique(facts.ordinary_tokens.begin(), facts.ordinary_tokens.end()),
      facts.ordinary_tokens.end());
  if (facts.ordinary_tokens.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model, ": random ids detokenize to no text to draw prompts from"));
  }
  return facts;
}

}  // namespace tessera::load
