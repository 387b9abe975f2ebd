#include "bench/load/request_maker.h"

namespace tessera::load {
namespace {

// Each random stream of a run gets its own seed, derived from --seed.
constexpr uint64_t kPromptStream = 1;
constexpr uint64_t kLengthStream = 2;

}  // namespace

RequestMaker::RequestMaker(const LoadOptions& options, std::vector<int32_t> ordinary_tokens)
    : options_(options),
      prompts_(std::move(ordinary_tokens), options.shared_prefix_tokens,
               options.seed + kPromptStream),
      rng_(options.seed + kLengthStream) {}

inference::v1::GenerateRequest RequestMaker::Next() {
  std::uniform_real_distribution<double> uniform(0, 1);
  const int32_t prompt_tokens = options_.prompt_tokens.Pick(uniform(rng_));
  const int32_t output_tokens = options_.output_tokens.Pick(uniform(rng_));
  const uint64_t sampling_seed = rng_();

  inference::v1::GenerateRequest request;
  request.set_model(options_.model);
  for (const int32_t id : prompts_.Make(prompt_tokens)) {
    request.mutable_prompt()->mutable_token_ids()->add_ids(id);
  }
  request.mutable_sampling()->set_temperature(options_.temperature);
  if (options_.temperature > 0) request.mutable_sampling()->set_seed(sampling_seed);
  // Every request generates exactly the length drawn: the figures compare across runs and
  // servers only when the work does.
  request.mutable_stop()->set_max_tokens(output_tokens);
  request.mutable_stop()->set_ignore_eos(true);
  return request;
}

}  // namespace tessera::load
