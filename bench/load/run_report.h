// Everything a load run reports: what was asked, of which model, and what was measured. The
// table (report_table.h) and the JSON (report_json.h) print the same fields.
#pragma once

#include <cstdint>
#include <optional>

#include "bench/load/engine_use.h"
#include "bench/load/load_options.h"
#include "bench/load/summary.h"

namespace tessera::load {

struct RunReport {
  LoadOptions options;
  int32_t vocab_size = 0;
  int32_t context_length = 0;
  int64_t ordinary_tokens = 0;  // distinct ids prompts are drawn from (ordinary_tokens.h)
  int64_t warmup_requests = 0;
  int64_t warmup_failed = 0;
  LoadSummary summary;      // of the measured requests
  int64_t held_by_cap = 0;  // open loop: measured arrivals sent late for want of a slot
  std::optional<EngineUse> engine;  // during the measured phase; none if a reading failed
};

}  // namespace tessera::load
