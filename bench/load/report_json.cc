#include "bench/load/report_json.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tessera::load {
namespace {

using Json = nlohmann::ordered_json;

Json MixJson(const LengthMix& mix) {
  Json out = Json::array();
  for (const WeightedLength& e : mix.entries()) {
    out.push_back({{"tokens", e.tokens}, {"weight", e.weight}});
  }
  return out;
}

Json DistributionJson(const Distribution& d) {
  return {{"p50", d.p50}, {"p90", d.p90}, {"p99", d.p99}, {"mean", d.mean}, {"count", d.count}};
}

Json OptionalSeconds(const std::optional<absl::Duration>& d) {
  return d.has_value() ? Json(absl::ToDoubleSeconds(*d)) : Json();
}

}  // namespace

Json ReportJson(const RunReport& report) {
  const LoadOptions& o = report.options;
  const LoadSummary& s = report.summary;
  Json out;
  out["options"] = {
      {"server", o.server},
      {"model", o.model},
      {"loop", o.open_loop() ? "open" : "closed"},
      {"concurrency", o.open_loop() ? Json() : Json(o.concurrency)},
      {"rate", o.open_loop() ? Json(o.rate) : Json()},
      {"max_outstanding", o.open_loop() ? Json(o.max_outstanding) : Json()},
      {"requests", o.duration.has_value() ? Json() : Json(o.requests)},
      {"duration_seconds", OptionalSeconds(o.duration)},
      {"warmup", o.warmup},
      {"prompt_tokens", MixJson(o.prompt_tokens)},
      {"output_tokens", MixJson(o.output_tokens)},
      {"shared_prefix_tokens", o.shared_prefix_tokens},
      {"ignore_eos", true},
      {"temperature", o.temperature},
      {"seed", o.seed},
      {"connections", o.connections},
      {"request_timeout_seconds", OptionalSeconds(o.request_timeout)},
  };
  out["model"] = {{"name", o.model},
                  {"vocab_size", report.vocab_size},
                  {"context_length", report.context_length},
                  {"ordinary_tokens", report.ordinary_tokens}};
  out["warmup"] = {{"requests", report.warmup_requests}, {"failed", report.warmup_failed}};
  Json errors = Json::array();
  for (const ErrorCount& e : s.errors) {
    errors.push_back({{"code", CodeName(e.code)},
                      {"code_number", static_cast<int>(e.code)},
                      {"requests", e.count},
                      {"first_message", e.first_message}});
  }
  out["results"] = {
      {"requests", s.requests},
      {"succeeded", s.succeeded},
      {"failed", s.failed},
      {"seconds", s.seconds},
      {"requests_per_second", s.requests_per_second},
      {"prompt_tokens", s.prompt_tokens},
      {"output_tokens", s.output_tokens},
      {"output_tokens_per_second", s.output_tokens_per_second},
      {"mean_prompt_tokens", s.mean_prompt_tokens},
      {"mean_output_tokens", s.mean_output_tokens},
      {"unexpected_lengths", s.unexpected_lengths},
      {"time_to_first_token_ms", DistributionJson(s.time_to_first_token_ms)},
      {"inter_token_ms", DistributionJson(s.inter_token_ms)},
      {"request_latency_ms", DistributionJson(s.latency_ms)},
      {"errors", errors},
      {"held_by_cap", report.held_by_cap},
  };
  out["engine"] = nullptr;
  if (report.engine.has_value()) {
    const EngineUse& e = *report.engine;
    out["engine"] = {{"steps", e.steps},
                     {"step_tokens", e.step_tokens},
                     {"forward_seconds", e.forward_seconds},
                     {"scheduling_seconds", e.scheduling_seconds},
                     {"forward_fraction", e.forward_fraction()}};
  }
  return out;
}

absl::Status WriteJson(const std::string& path, const Json& json) {
  std::ofstream file(path);
  file << json.dump(2) << "\n";
  file.close();
  if (!file) return absl::InternalError(absl::StrCat(path, ": could not be written"));
  return absl::OkStatus();
}

}  // namespace tessera::load
