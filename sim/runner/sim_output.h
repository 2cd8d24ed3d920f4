// What a simulator run leaves behind: the headline figures (at full scale) computed from a SimRun, and
// the report folder: summary.json, report.md, SVG figures, metrics.om.
#pragma once

#include <string>

#include "core/status.h"
#include "scenario/scenario.h"
#include "sim/runner/sim_runner.h"

namespace chatscale::sim {

struct Headline {
  double messages_total = 0;
  double peak_messages_per_s = 0;   // highest 60 s mean
  double ttft_p50_s = 0, ttft_p99_s = 0;
  double e2e_p50_s = 0, e2e_p99_s = 0;
  double max_concurrent_streams = 0;
  double peak_egress_gbps = 0;      // highest 60 s mean
  double db_primary_peak_tps = 0;
  double db_replica_lag_p99_s = 0;
  double db_read_fraction = 0;
  double rate_limited_fraction = 0;
  double moderated_fraction = 0;
  double messages_lost = 0;
  double availability = 1;
  double storage_bytes_per_day = 0;
};

Headline headline_figures(const Scenario& scenario, const SimRun& run);

// Writes the report folder; returns a short text summary for the terminal.
Result<std::string> write_outputs(const Scenario& scenario, const SimRun& run, const std::string& dir);

}  // namespace chatscale::sim
