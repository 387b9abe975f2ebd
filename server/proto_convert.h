// Conversions between the wire types of tessera.inference.v1 and the engine's types: the only
// file where both sides meet. Unset proto3 `optional` fields take the defaults the contract names.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/generation.h"
#include "core/engine/sampler.h"
#include "core/engine/sampling_params.h"
#include "core/tokenizer/tokenizer.h"
#include "tessera/inference/v1/inference.pb.h"

namespace tessera::server {

namespace pb = ::tessera::inference::v1;

// Request side. Errors name the proto field, as the engine's do.
absl::StatusOr<GenerationRequest> ToGenerationRequest(const pb::Prompt& prompt,
                                                      const pb::SamplingParams& sampling,
                                                      const pb::StopCriteria& stop,
                                                      pb::Priority priority);
absl::StatusOr<Priority> ToPriority(pb::Priority priority);
SamplingParams ToSamplingParams(const pb::SamplingParams& sampling);
StopCriteria ToStopCriteria(const pb::StopCriteria& stop);
EngineOptions ToEngineOptions(const pb::LoadModelRequest& request);

// Whether GeneratedToken should carry logprobs for these parameters.
bool WantsLogprobs(const pb::SamplingParams& sampling);

// Response side.
pb::ModelInfo ToModelInfoProto(const std::string& name, const Engine& engine);
pb::GeneratedToken ToGeneratedTokenProto(const SampledToken& token, const Tokenizer& tokenizer,
                                         bool with_logprobs);
pb::FinishReason ToFinishReasonProto(FinishReason reason);
pb::LoadStage ToLoadStageProto(LoadStage stage);
pb::Usage ToUsageProto(const StepOutput& output);

}  // namespace tessera::server
