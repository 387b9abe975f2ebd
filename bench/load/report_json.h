// A load run's report as JSON, for scripts and bench/RESULTS.md: the options, the model, and
// every figure the table prints.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "bench/load/run_report.h"

namespace tessera::load {

nlohmann::ordered_json ReportJson(const RunReport& report);

absl::Status WriteJson(const std::string& path, const nlohmann::ordered_json& json);

}  // namespace tessera::load
