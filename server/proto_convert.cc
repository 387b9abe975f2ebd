#include "server/proto_convert.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera::server {
namespace {

std::vector<ChatMessage> ToChatMessages(const pb::ChatMessages& chat) {
  std::vector<ChatMessage> messages;
  messages.reserve(chat.messages_size());
  for (const pb::ChatMessage& message : chat.messages()) {
    ChatMessage& converted = messages.emplace_back();
    converted.role = message.role();
    converted.content = message.content();
  }
  return messages;
}

}  // namespace

absl::StatusOr<Priority> ToPriority(pb::Priority priority) {
  switch (priority) {
    case pb::PRIORITY_LOW:
      return Priority::kLow;
    case pb::PRIORITY_UNSPECIFIED:
    case pb::PRIORITY_NORMAL:
      return Priority::kNormal;
    case pb::PRIORITY_HIGH:
      return Priority::kHigh;
    default:
      return InvalidField("priority", absl::StrCat("unknown value ", priority));
  }
}

absl::StatusOr<GenerationRequest> ToGenerationRequest(const pb::Prompt& prompt,
                                                      const pb::SamplingParams& sampling,
                                                      const pb::StopCriteria& stop,
                                                      pb::Priority priority) {
  GenerationRequest request;
  switch (prompt.kind_case()) {
    case pb::Prompt::kText:
      request.prompt = prompt.text();
      break;
    case pb::Prompt::kTokenIds:
      request.prompt = std::vector<int32_t>(prompt.token_ids().ids().begin(),
                                            prompt.token_ids().ids().end());
      break;
    case pb::Prompt::kChat:
      request.prompt = ToChatMessages(prompt.chat());
      break;
    case pb::Prompt::KIND_NOT_SET:
      return InvalidField("prompt", "must hold text, token_ids or chat");
  }
  request.sampling = ToSamplingParams(sampling);
  request.stop = ToStopCriteria(stop);
  TESSERA_ASSIGN_OR_RETURN(request.priority, ToPriority(priority));
  return request;
}

SamplingParams ToSamplingParams(const pb::SamplingParams& sampling) {
  SamplingParams params;
  params.temperature = sampling.has_temperature() ? sampling.temperature() : 1.0f;
  params.top_k = sampling.top_k();
  params.top_p = sampling.has_top_p() ? sampling.top_p() : 1.0f;
  params.min_p = sampling.min_p();
  params.repetition_penalty =
      sampling.has_repetition_penalty() ? sampling.repetition_penalty() : 1.0f;
  params.presence_penalty = sampling.presence_penalty();
  params.frequency_penalty = sampling.frequency_penalty();
  params.logit_bias.assign(sampling.logit_bias().begin(), sampling.logit_bias().end());
  // Map order is unspecified; sorted, the same request always gives the same params.
  std::sort(params.logit_bias.begin(), params.logit_bias.end());
  if (sampling.has_seed()) params.seed = sampling.seed();
  params.top_logprobs = sampling.top_logprobs();
  return params;
}

StopCriteria ToStopCriteria(const pb::StopCriteria& stop) {
  StopCriteria criteria;
  criteria.max_tokens = stop.max_tokens();
  criteria.stop_strings.assign(stop.stop_strings().begin(), stop.stop_strings().end());
  criteria.stop_token_ids.assign(stop.stop_token_ids().begin(), stop.stop_token_ids().end());
  criteria.ignore_eos = stop.ignore_eos();
  return criteria;
}

EngineOptions ToEngineOptions(const pb::LoadModelRequest& request) {
  EngineOptions options;
  options.path = request.path();
  options.device = request.device();
  options.kv_cache_capacity_tokens = request.kv_cache_capacity_tokens();
  options.kv_cache_memory_fraction = request.kv_cache_memory_fraction();
  options.share_prompt_prefixes = !request.disable_prefix_sharing();
  return options;
}

bool WantsLogprobs(const pb::SamplingParams& sampling) {
  return sampling.logprobs() || sampling.top_logprobs() > 0;
}

pb::ModelInfo ToModelInfoProto(const std::string& name, const Engine& engine) {
  const ModelInfo& info = engine.model_info();
  pb::ModelInfo proto;
  proto.set_name(name);
  proto.set_path(engine.path());
  proto.set_architecture(info.architecture);
  proto.set_vocab_size(info.vocab_size);
  proto.set_hidden_size(info.hidden_size);
  proto.set_num_layers(info.num_layers);
  proto.set_num_attention_heads(info.num_heads);
  proto.set_num_kv_heads(info.num_kv_heads);
  proto.set_context_length(info.context_length);
  proto.set_weight_dtype(std::string(DTypeName(info.weight_dtype)));
  proto.set_weight_bytes(info.weight_bytes);
  proto.set_kv_cache_bytes_per_token(info.kv_shape.bytes_per_token());
  proto.set_kv_cache_capacity_tokens(engine.kv_cache_capacity_tokens());
  proto.set_device(engine.device());
  proto.set_has_chat_template(engine.has_chat_template());
  proto.set_prefix_sharing(engine.shares_prompt_prefixes());
  const EngineCounters counters = engine.counters();
  pb::EngineCounters& counted = *proto.mutable_engine_counters();
  counted.set_steps(counters.steps);
  counted.set_step_tokens(counters.step_tokens);
  counted.set_forward_seconds(absl::ToDoubleSeconds(counters.forward));
  counted.set_scheduling_seconds(absl::ToDoubleSeconds(counters.scheduling));
  return proto;
}

pb::GeneratedToken ToGeneratedTokenProto(const SampledToken& token, const Tokenizer& tokenizer,
                                         bool with_logprobs) {
  pb::GeneratedToken proto;
  proto.set_token_id(token.token);
  proto.set_token_bytes(tokenizer.TokenBytes(token.token));
  if (!with_logprobs) return proto;
  proto.set_logprob(token.logprob);
  for (const TokenLogprob& alternative : token.top) {
    pb::TokenLogprob* top = proto.add_top_logprobs();
    top->set_token_id(alternative.token);
    top->set_token_bytes(tokenizer.TokenBytes(alternative.token));
    top->set_logprob(alternative.logprob);
  }
  return proto;
}

pb::FinishReason ToFinishReasonProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return pb::FINISH_REASON_UNSPECIFIED;
    case FinishReason::kLength: return pb::FINISH_REASON_LENGTH;
    case FinishReason::kStop: return pb::FINISH_REASON_STOP;
    case FinishReason::kEndOfSequence: return pb::FINISH_REASON_END_OF_SEQUENCE;
    case FinishReason::kCancelled: return pb::FINISH_REASON_CANCELLED;
  }
  return pb::FINISH_REASON_UNSPECIFIED;
}

pb::LoadStage ToLoadStageProto(LoadStage stage) {
  switch (stage) {
    case LoadStage::kOpeningFile: return pb::LOAD_STAGE_OPENING_FILE;
    case LoadStage::kReadingWeights: return pb::LOAD_STAGE_READING_WEIGHTS;
    case LoadStage::kBuildingModel: return pb::LOAD_STAGE_BUILDING_MODEL;
    case LoadStage::kUploadingWeights: return pb::LOAD_STAGE_UPLOADING_WEIGHTS;
  }
  return pb::LOAD_STAGE_UNSPECIFIED;
}

pb::Usage ToUsageProto(const StepOutput& output) {
  pb::Usage usage;
  usage.set_prompt_tokens(output.prompt_tokens);
  usage.set_completion_tokens(output.completion_tokens);
  usage.set_cached_prompt_tokens(output.cached_prompt_tokens);
  return usage;
}

}  // namespace tessera::server
