#include "sim/runner/sim_output.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "capacity/arithmetic.h"
#include "sim/db/database_model.h"
#include "sim/report/recorder.h"

namespace chatscale::sim {
namespace {

// Highest mean of `window` consecutive seconds within [from, to).
double max_window_mean(const std::vector<double>& per_second, std::size_t window, std::size_t from, std::size_t to) {
  to = std::min(to, per_second.size());
  if (to <= from) return 0;
  window = std::max<std::size_t>(1, std::min(window, to - from));
  double sum = 0, best = 0;
  for (std::size_t i = from; i < to; ++i) {
    sum += per_second[i];
    if (i >= from + window) sum -= per_second[i - window];
    if (i + 1 >= from + window) best = std::max(best, sum / static_cast<double>(window));
  }
  return best;
}

double max_in(const std::vector<double>& v, std::size_t from, std::size_t to) {
  double best = 0;
  for (std::size_t i = from; i < std::min(to, v.size()); ++i) best = std::max(best, v[i]);
  return best;
}

double finite_or_zero(double v) { return std::isfinite(v) ? v : 0; }

}  // namespace

Headline headline_figures(const Scenario& scenario, const SimRun& run) {
  Headline h;
  const auto& c = run.counts;
  auto from = static_cast<std::size_t>(run.warmup_s);
  auto to = static_cast<std::size_t>(std::ceil(run.window_end_s));
  const Recorder& r = *run.recorder;
  h.messages_total = c.messages;
  h.peak_messages_per_s = max_window_mean(run.messages_per_s, 60, from, to);
  h.ttft_p50_s = finite_or_zero(r.sample_quantile(SampleKind::kTimeToFirstToken, 0.5, run.warmup_s));
  h.ttft_p99_s = finite_or_zero(r.sample_quantile(SampleKind::kTimeToFirstToken, 0.99, run.warmup_s));
  h.e2e_p50_s = finite_or_zero(r.sample_quantile(SampleKind::kE2eLatency, 0.5, run.warmup_s));
  h.e2e_p99_s = finite_or_zero(r.sample_quantile(SampleKind::kE2eLatency, 0.99, run.warmup_s));
  h.max_concurrent_streams = max_in(run.active_streams, from, to);
  h.peak_egress_gbps = max_window_mean(run.egress_bytes_per_s, 60, from, to) * 8 / 1e9;
  h.db_primary_peak_tps = run.database->peak_primary_tps(60, run.warmup_s);
  h.db_replica_lag_p99_s = finite_or_zero(run.database->replica_lag_percentile(0.99, run.warmup_s));
  h.db_read_fraction = run.database->read_fraction();
  double m = std::max(c.messages, 1e-9);
  h.rate_limited_fraction = c.rate_limited / m;
  h.moderated_fraction = c.moderated / m;
  h.messages_lost = c.lost;
  double eligible = c.messages - c.rate_limited - c.moderated - c.invalid;
  h.availability = eligible > 0 ? c.ok / eligible : 1;
  h.storage_bytes_per_day = c.messages > 0 ? c.stored_bytes / c.messages * scenario.traffic.daily_messages(scenario.users) : 0;
  return h;
}

Result<std::string> write_outputs(const Scenario& scenario, const SimRun& run, const std::string& dir) {
  Headline h = headline_figures(scenario, run);
  std::ostringstream o;
  o << "scenario " << scenario.name << ": " << format_number(run.simulated_seconds) << " simulated s in "
    << format_number(run.wall_seconds, 1) << " wall s at 1/" << format_number(1 / run.sample_fraction) << "\n"
    << "  messages " << format_number(h.messages_total) << ", peak " << format_number(h.peak_messages_per_s) << "/s\n"
    << "  TTFT p50 " << format_number(h.ttft_p50_s, 3) << " s, p99 " << format_number(h.ttft_p99_s, 3) << " s\n"
    << "  e2e p50 " << format_number(h.e2e_p50_s, 3) << " s, p99 " << format_number(h.e2e_p99_s, 3) << " s\n"
    << "  streams max " << format_number(h.max_concurrent_streams) << ", egress peak " << format_number(h.peak_egress_gbps, 3) << " Gbps\n"
    << "  primary peak " << format_number(h.db_primary_peak_tps) << " tps, replica lag p99 " << format_number(h.db_replica_lag_p99_s, 3)
    << " s, reads " << format_number(h.db_read_fraction * 100, 1) << "%\n"
    << "  rate limited " << format_number(h.rate_limited_fraction * 100, 2) << "%, moderated "
    << format_number(h.moderated_fraction * 100, 2) << "%, lost " << format_number(h.messages_lost)
    << ", availability " << format_number(h.availability * 100, 3) << "%\n"
    << "  storage " << format_bytes(h.storage_bytes_per_day) << "/day\n"
    << "  report: " << dir << "\n";
  return o.str();
}

}  // namespace chatscale::sim
