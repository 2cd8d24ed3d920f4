#include "sim/report/figures.h"

#include <filesystem>

#include "sim/report/format.h"
#include "sim/report/svg_chart.h"

namespace chatscale::sim {

namespace {

// From the exact samples when there are any (the histogram's buckets blur a p99), else from the
// histogram's bucket differences.
Figure ttft_figure(const Recorder& rec, double window_s) {
  Figure f{"ttft.svg", "latency", "", "seconds", {}};
  const auto& times = rec.snapshot_times();
  if (rec.sample_count(SampleKind::kTimeToFirstToken) > 0) {
    double w = window_s > 0 ? window_s : (times.size() > 1 ? times[1] - times[0] : 60);
    f.title = "Time to first token, exact samples per " + format_duration(w) + " window";
    for (double q : {0.50, 0.99})
      f.series.push_back(sample_quantile_series(rec, SampleKind::kTimeToFirstToken, q, w, q == 0.5 ? "p50" : "p99"));
    return f;
  }
  f.title = "Time to first token, " +
            (window_s > 0 ? "per " + format_duration(window_s) + " window" : std::string("per snapshot interval"));
  for (double q : {0.50, 0.99})
    f.series.push_back(histogram_quantile_series(rec, MetricId::kTimeToFirstToken, q, {}, q == 0.5 ? "p50" : "p99",
                                                 window_s));
  return f;
}

}  // namespace

std::vector<Figure> standard_figures(const Recorder& rec, double quantile_window_s) {
  using M = MetricId;
  std::vector<Figure> out;
  out.push_back({"messages_per_s.svg", "streams and bandwidth", "Messages per second", "messages/s",
                 {counter_rate(rec, M::kMessages, {}, "all outcomes"),
                  counter_rate(rec, M::kMessages, {{"outcome", "ok"}}, "ok")}});
  out.push_back(ttft_figure(rec, quantile_window_s));
  out.push_back({"active_streams.svg", "streams and bandwidth", "Concurrent answer streams", "streams",
                 {sum_series(rec, M::kActiveStreams, {}, "open streams")}});
  out.push_back({"replica_lag.svg", "database", "Replica lag per replica", "seconds",
                 sum_series_by_label(rec, M::kDbReplicaLag, "replica")});
  out.push_back({"db_load.svg", "database", "Database load: primary versus replicas", "queries/s",
                 counter_rate_by_label(rec, M::kDbQueries, "role")});
  out.push_back({"egress_gbps.svg", "streams and bandwidth", "Answer stream egress", "Gbps",
                 {scaled(counter_rate(rec, M::kStreamEgressBytes), 8e-9, "egress")}});
  return out;
}

Result<std::vector<FigureLink>> write_figures(const std::vector<Figure>& figures, const RunInfo& info,
                                              const std::string& dir) {
  ChartOptions options;
  options.time_of_day_offset_s = info.time_of_day_offset_s();
  std::vector<FigureLink> links;
  for (const Figure& f : figures) {
    std::string path = (std::filesystem::path(dir) / f.file).string();
    CS_RETURN_IF_ERROR(write_svg_line_chart(path, f.title, "time of day (UTC)", f.y_label, f.series, options));
    links.push_back({f.section, f.title, f.file});
  }
  return links;
}

}  // namespace chatscale::sim
