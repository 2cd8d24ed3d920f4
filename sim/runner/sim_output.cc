#include "sim/runner/sim_output.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "capacity/arithmetic.h"
#include "cost/cost_model.h"
#include "scenario/scenario_cost.h"
#include "sim/db/database_model.h"
#include "sim/report/figures.h"
#include "sim/report/format.h"
#include "sim/report/openmetrics.h"
#include "sim/report/recorder.h"

namespace chatscale::sim {
namespace {

// Peak rates are the busiest window of traffic.peak_hours (the reference's own definition: 20% of the
// day in 2 hours), or of the whole run when it is shorter. Shorter windows would also measure noise:
// sampling keeps whole conversations (5 messages each on average), so a 10-minute count at 1/1000
// still varies by ~1.5%, and the largest of a dozen such windows sits 2-3% above the mean.
std::size_t peak_window_s(const Scenario& scenario) {
  return static_cast<std::size_t>(std::max(60.0, scenario.traffic.peak_hours * 3600));
}

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


double finite_or_zero(double v) { return std::isfinite(v) ? v : 0; }

std::map<std::string, CapacityFigure> capacity_by_key(const Scenario& scenario) {
  std::map<std::string, CapacityFigure> out;
  for (auto& f : capacity_figures(scenario)) out[f.key] = f;
  return out;
}

}  // namespace

RunInfo run_info(const Scenario& scenario, const SimRun& run) {
  RunInfo info;
  info.scenario = scenario.name;
  info.sample_fraction = run.sample_fraction;
  info.seed = run.seed;
  info.simulated_seconds = run.simulated_seconds;
  info.wall_seconds = run.wall_seconds;
  info.events = run.events;
  info.start_epoch_seconds = start_epoch_for_hour(run.start_utc_seconds / 3600.0);
  return info;
}

Summary summarize(const Scenario& scenario, const SimRun& run) {
  Summary s;
  const auto& c = run.counts;
  auto from = static_cast<std::size_t>(run.warmup_s);
  auto to = static_cast<std::size_t>(std::ceil(run.window_end_s));
  const Recorder& r = *run.recorder;
  s.scenario = scenario.name;
  s.sample_factor = run.sample_fraction;
  s.seed = run.seed;
  s.simulated_seconds = run.window_end_s - run.warmup_s;
  s.wall_seconds = run.wall_seconds;
  s.events = run.events;
  s.messages_total = c.messages;
  s.peak_messages_per_s = max_window_mean(run.messages_per_s, peak_window_s(scenario), from, to);
  s.ttft_p50_s = finite_or_zero(r.sample_quantile(SampleKind::kTimeToFirstToken, 0.5, run.warmup_s));
  s.ttft_p99_s = finite_or_zero(r.sample_quantile(SampleKind::kTimeToFirstToken, 0.99, run.warmup_s));
  s.e2e_p50_s = finite_or_zero(r.sample_quantile(SampleKind::kE2eLatency, 0.5, run.warmup_s));
  s.e2e_p99_s = finite_or_zero(r.sample_quantile(SampleKind::kE2eLatency, 0.99, run.warmup_s));
  // The highest 1-minute mean: the instantaneous maximum of a sampled count rises with the sampling
  // noise (more so at coarser sampling), the minute's mean does not.
  s.max_concurrent_streams = max_window_mean(run.active_streams, 60, from, to);
  s.peak_egress_gbps = max_window_mean(run.egress_bytes_per_s, peak_window_s(scenario), from, to) * 8 / 1e9;
  s.db_primary_peak_tps = run.database->peak_primary_tps(60, run.warmup_s);  // capacity is per second: a 1-minute peak
  s.db_replica_lag_p99_s = finite_or_zero(run.database->replica_lag_percentile(0.99, run.warmup_s));
  s.db_read_fraction = run.database->read_fraction();
  double m = std::max(c.messages, 1e-9);
  s.rate_limited_fraction = c.rate_limited / m;
  s.moderated_fraction = (c.moderated + c.content_filtered) / m;
  s.messages_lost = c.lost;
  double eligible = c.messages - c.rate_limited - c.moderated - c.invalid;
  s.availability = eligible > 0 ? c.ok / eligible : 1;
  s.storage_bytes_per_day = c.messages > 0 ? c.stored_bytes / c.messages * scenario.traffic.daily_messages(scenario.users) : 0;
  s.extra["sampled_messages"] = c.sampled_messages;
  s.extra["mean_stream_s"] = c.streams > 0 ? c.stream_seconds / c.streams : 0;
  s.extra["peak_live_actors"] = static_cast<double>(run.peak_live_actors);
  s.extra["sampled_messages_per_wall_s"] = run.wall_seconds > 0 ? c.sampled_messages / run.wall_seconds : 0;
  s.extra["failed_fraction"] = c.failed / m;
  s.extra["content_filtered_fraction"] = c.content_filtered / m;
  s.extra["db_primary_fallback_reads"] = 0;
  for (double v : run.database->totals().fallbacks) s.extra["db_primary_fallback_reads"] += v;
  const FleetStats& g = run.fleet;
  s.extra["gpu_engines_simulated"] = g.engines;
  s.extra["gpu_mean_decode_batch"] = g.mean_decode_batch();
  s.extra["gpu_mean_iteration_ms"] = g.mean_iteration_s() * 1e3;
  s.extra["gpu_utilization"] = g.utilization();
  s.extra["gpu_output_tokens_per_gpu_s"] = g.tokens_per_gpu_s();
  s.extra["gpu_busy_output_tokens_per_gpu_s"] = g.busy_tokens_per_gpu_s();
  s.extra["gpu_kv_tokens_per_replica"] = static_cast<double>(g.kv_blocks_per_replica) * g.kv_block_tokens;
  s.extra["gpu_background_refused"] = static_cast<double>(g.background_refused);
  if (auto inputs = scenario_cost_inputs(scenario); inputs.is_ok()) {
    CostBreakdown cost = monthly_cost(*inputs);
    s.extra["cost_self_hosted_usd_per_month"] = cost.self_hosted_usd;
    s.extra["cost_api_usd_per_month"] = cost.api_usd;
  }
  return s;
}

std::vector<ReportRow> report_rows(const Scenario& scenario, const SimRun& run, const Summary& s) {
  auto cap = capacity_by_key(scenario);
  auto row = [&](std::string section, std::string key, double simulated, std::string unit, Check check,
                 double tolerance, std::string note = "") {
    const CapacityFigure& f = cap[key];
    ReportRow r;
    r.section = std::move(section);
    r.figure = f.label.empty() ? key : f.label;
    r.simulated = simulated;
    r.reference = f.claimed.value_or(f.value);
    r.unit = std::move(unit);
    r.arithmetic = f.arithmetic + " = " + format_number(f.value, f.value < 10 ? 3 : 0);
    r.check = check;
    r.tolerance = tolerance;
    r.note = note.empty() ? f.claim_note : note;
    return r;
  };
  std::vector<ReportRow> rows;
  rows.push_back(row("streams and bandwidth", "peak_messages_per_s", s.peak_messages_per_s, "messages/s", Check::kWithin, 0.02));
  rows.push_back(row("database", "storage_bytes_per_day", s.storage_bytes_per_day, "bytes", Check::kWithin, 0.05));
  double stream_s = s.extra.count("mean_stream_s") ? s.extra.at("mean_stream_s") : 0;
  rows.push_back(row("streams and bandwidth", "max_concurrent_streams", s.max_concurrent_streams, "streams", Check::kWithin, 0.25,
                     "a simulated stream stays open " + format_number(stream_s, 2) + " s (its tokens at the GPU's decode rate), so "
                     "Little's law gives " + format_number(s.peak_messages_per_s * stream_s) + "; the reference's 20M is 10% of "
                     "daily users, which as open streams would need 1M answers/s"));
  rows.push_back(row("streams and bandwidth", "peak_egress_gbps", s.peak_egress_gbps, "Gbps", Check::kWithin, 0.25));
  rows.push_back(row("database", "db_primary_peak_tps", s.db_primary_peak_tps, "transactions/s", Check::kInfo, 0,
                     "simulated transactions of the message flow; the arithmetic counts the reference's write statements"));
  rows.push_back(row("database", "db_read_fraction", s.db_read_fraction, "ratio", Check::kWithin, 0.05));
  ReportRow capacity;
  capacity.section = "database";
  capacity.figure = "Primary peak vs its capacity";
  capacity.simulated = s.db_primary_peak_tps;
  capacity.reference = scenario.database.primary_max_transactions_per_s;
  capacity.unit = "transactions/s";
  capacity.arithmetic = "database.primary_max_transactions_per_s";
  capacity.check = Check::kAtMost;
  rows.push_back(capacity);
  ReportRow lag{"database", "Replica lag p99", s.db_replica_lag_p99_s, scenario.database.replica_max_lag_s, "s",
                "database.replica_max_lag_s (a replica lagging more leaves rotation)", Check::kAtMost, 0, true, ""};
  rows.push_back(lag);
  const auto& a = scenario.availability;
  rows.push_back({"latency", "Time to first token p99", s.ttft_p99_s, a.ttft_target_s, "s",
                  "MISSION: first token in under 2 s", Check::kAtMost, 0, true, ""});
  rows.push_back({"latency", "Time to first token p50", s.ttft_p50_s, a.ttft_target_s, "s", "", Check::kInfo, 0, false, ""});
  rows.push_back({"latency", "End to end p99", s.e2e_p99_s, NAN, "s", "", Check::kInfo, 0, false, ""});
  rows.push_back({"availability", "Availability", s.availability, a.target, "ratio",
                  "answered / (messages - rate limited - moderated)", Check::kAtLeast, 0, true, ""});
  rows.push_back({"availability", "Messages lost", s.messages_lost, static_cast<double>(a.max_lost_messages), "messages",
                  "MISSION: zero message loss", Check::kAtMost, 0, true, ""});
  if (s.extra.count("cost_self_hosted_usd_per_month")) {
    rows.push_back(row("cost", "self_hosted_usd_per_month", s.extra.at("cost_self_hosted_usd_per_month"), "USD", Check::kWithin, 0.1));
    rows.push_back(row("cost", "api_usd_per_month", s.extra.at("cost_api_usd_per_month"), "USD", Check::kWithin, 0.1));
  }
  // The GPU fleet: what the engines reached at this load, and the fleet it implies.
  const FleetStats& g = run.fleet;
  const double answer_tokens = scenario.traffic.assistant_response.mean_bytes / scenario.traffic.bytes_per_token;
  const double needed = s.peak_messages_per_s * answer_tokens;
  const double per_gpu = g.busy_tokens_per_gpu_s();
  rows.push_back({"GPU fleet", "Mean decode batch per engine", g.mean_decode_batch(), NAN, "sequences",
                  "scheduler: running sequences per iteration (max " + format_number(scenario.gpu.engine.max_batch_sequences) + ")",
                  Check::kInfo, 0, false, ""});
  rows.push_back({"GPU fleet", "Mean iteration time", g.mean_iteration_s() * 1e3, NAN, "ms",
                  "calibrated iteration-time model of " + scenario.gpu.model.name + " at TP" + format_number(g.tensor_parallel),
                  Check::kInfo, 0, false, ""});
  rows.push_back({"GPU fleet", "Engine busy share", g.utilization(), NAN, "ratio", "time in iterations / time", Check::kInfo, 0, false, ""});
  rows.push_back({"GPU fleet", "Output tokens/s per GPU while busy", per_gpu, NAN, "tokens/s",
                  "generated tokens / (busy engine-seconds x TP)", Check::kInfo, 0, false, ""});
  rows.push_back({"GPU fleet", "Output tokens/s needed at peak", needed, NAN, "tokens/s",
                  "peak " + format_number(s.peak_messages_per_s) + " msg/s x " + format_number(answer_tokens) +
                      " answer tokens; the fleet produced " + format_number(per_gpu * g.utilization() * scenario.gpu.fleet.gpus) +
                      " (GPUs x tokens/s per busy GPU x busy share); the smallest fleet that keeps TTFT p99 under target is "
                      "what `chatscale sim --find-min-gpus` finds (fleet_sizing.md)",
                  Check::kInfo, 0, false, ""});
  return rows;
}

Result<std::string> write_outputs(const Scenario& scenario, const SimRun& run, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return internal_error(dir + ": cannot create the folder: " + ec.message());
  RunInfo info = run_info(scenario, run);
  Summary summary = summarize(scenario, run);
  CS_RETURN_IF_ERROR(write_summary_json(dir + "/summary.json", summary));
  CS_ASSIGN_OR_RETURN(auto links, write_figures(standard_figures(*run.recorder), info, dir));
  ReportOptions options;
  options.figures = links;
  options.notes.push_back("Figures are at full scale: the run simulated 1 in " + format_number(1 / run.sample_fraction) +
                          " messages as tasks; the database saw the full-scale load (its model scales the sampled "
                          "load by the sampling factor).");
  options.notes.push_back("Time to first token includes rate limiting, moderation, the conversation reads, the durable "
                          "write of the user message and the GPU queue and prefill. Each GPU cluster runs " +
                          format_number(run.fleet.engines) + " simulated engine(s) in all with the shared continuous-batching "
                          "scheduler and KV block manager, iterations priced by the iteration-time model calibrated on "
                          "the H100 profile; background requests keep each simulated engine at the load of a full-scale "
                          "replica (sim/fleet/gpu_cluster.h).");
  for (const auto& f : scenario.availability.failures) {
    if (f.kind == FailureKind::kLinkDown)
      options.notes.push_back("Failure " + std::string(failure_kind_name(f.kind)) + " of " + f.target + " at " +
                              format_number(f.at_s) + " s is not modelled yet: this run ignored it.");
  }
  auto rows = report_rows(scenario, run, summary);
  CS_RETURN_IF_ERROR(write_report_md(dir + "/report.md", summary, rows, options));
  OpenMetricsOptions om;
  om.min_step_s = std::max(scenario.simulation.metrics_interval_s, run.simulated_seconds / 2000);
  CS_RETURN_IF_ERROR(write_openmetrics(dir + "/metrics.om", *run.recorder, info, om));

  std::ostringstream o;
  const Summary& h = summary;
  o << "scenario " << scenario.name << ": " << format_number(h.simulated_seconds) << " simulated s (after "
    << format_number(run.warmup_s) << " s of warm-up) in " << format_number(run.wall_seconds, 1) << " wall s at 1/"
    << format_number(1 / run.sample_fraction) << "\n"
    << "  messages " << format_number(h.messages_total) << ", peak " << format_number(h.peak_messages_per_s) << "/s\n"
    << "  TTFT p50 " << format_number(h.ttft_p50_s, 3) << " s, p99 " << format_number(h.ttft_p99_s, 3) << " s; e2e p50 "
    << format_number(h.e2e_p50_s, 3) << " s, p99 " << format_number(h.e2e_p99_s, 3) << " s\n"
    << "  streams max " << format_number(h.max_concurrent_streams) << ", egress peak "
    << format_number(h.peak_egress_gbps, 3) << " Gbps\n"
    << "  primary peak " << format_number(h.db_primary_peak_tps) << " tps, replica lag p99 "
    << format_number(h.db_replica_lag_p99_s, 3) << " s, reads " << format_number(h.db_read_fraction * 100, 1) << "%\n"
    << "  rate limited " << format_number(h.rate_limited_fraction * 100, 2) << "%, moderated "
    << format_number(h.moderated_fraction * 100, 2) << "%, lost " << format_number(h.messages_lost)
    << ", availability " << format_number(h.availability * 100, 3) << "%\n"
    << "  storage " << format_bytes(h.storage_bytes_per_day) << "/day\n"
    << "  report: " << dir << "/report.md\n";
  return o.str();
}

}  // namespace chatscale::sim
