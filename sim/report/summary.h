// Summary: the headline figures of one simulator run, written as summary.json (the file golden
// tests compare) and read back. compute_summary() derives most figures from a Recorder; the runner
// fills what the recorder cannot know (storage_bytes_per_day, extra figures) and may override any.
//
// All figures are at full scale. A figure that cannot be computed (no messages, no samples) is NaN,
// written as null and read back as NaN. The JSON has a fixed key order (the order of the struct) and
// shortest round-trip numbers, so the same Summary always gives the same bytes.
// Thread-safety: values and pure functions. Failure behaviour: errors as Status values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "sim/report/recorder.h"
#include "sim/report/run_info.h"

namespace chatscale::sim {

struct Summary {
  std::string scenario;
  double sample_factor = 1;  // f, the fraction of messages simulated
  std::uint64_t seed = 0;
  double simulated_seconds = 0;
  double wall_seconds = 0;
  std::uint64_t events = 0;
  double messages_total = 0;
  double peak_messages_per_s = 0;
  double ttft_p50_s = 0;
  double ttft_p99_s = 0;
  double e2e_p50_s = 0;
  double e2e_p99_s = 0;
  double max_concurrent_streams = 0;
  double peak_egress_gbps = 0;
  double db_primary_peak_tps = 0;
  double db_replica_lag_p99_s = 0;
  double db_read_fraction = 0;
  double rate_limited_fraction = 0;
  double moderated_fraction = 0;  // outcomes moderated and content_filter
  double messages_lost = 0;
  double availability = 0;        // 1 - (error + overloaded) / messages
  double storage_bytes_per_day = 0;
  std::map<std::string, double> extra;  // free-form figures, sorted by name
};

struct SummaryOptions {
  double warmup_s = 0;       // when > 0, figures count only what happened from this simulated time on
  double peak_window_s = 60; // peaks are rates over windows of this length
};

// Figures from the recorder: messages and outcome fractions from chatscale_messages_total; TTFT and
// e2e percentiles from exact samples when there are any, else from the histograms; peaks from counter
// rates over options.peak_window_s; replica lag p99 from exact samples, else from the lag gauges'
// snapshots; cost_dollars_<component> and cost_dollars_total in extra. Run facts come from `info`.
Summary compute_summary(const Recorder& rec, const RunInfo& info, const SummaryOptions& options = {});

std::string summary_to_json(const Summary& summary);
Result<Summary> parse_summary_json(std::string_view text);
Status write_summary_json(const std::string& path, const Summary& summary);
Result<Summary> read_summary_json(const std::string& path);

}  // namespace chatscale::sim
