// Summary: the headline figures of one simulator run, written as summary.json (the file golden
// tests compare) and read back. The runner builds it (sim/runner/sim_output.h, summarize()) from the
// run's per-second series, its database model and its samples.
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

std::string summary_to_json(const Summary& summary);
Result<Summary> parse_summary_json(std::string_view text);
Status write_summary_json(const std::string& path, const Summary& summary);
Result<Summary> read_summary_json(const std::string& path);

}  // namespace chatscale::sim
