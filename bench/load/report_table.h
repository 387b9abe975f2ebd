// A load run's report as text: what ran, then markdown tables of throughput, latencies and
// errors, the way tessera-bench prints its figures.
#pragma once

#include <string>

#include "bench/load/run_report.h"

namespace tessera::load {

std::string ReportTable(const RunReport& report);

}  // namespace tessera::load
