// Time series derived from a Recorder, for charts and summaries: sums over label sets, per-second
// rates from counter differences, peak rates over sliding windows, and quantiles per snapshot window
// from histogram bucket differences (linear interpolation inside a bucket, as Prometheus'
// histogram_quantile) or from the recorder's exact samples.
//
// Pure functions of the recorder's snapshots; call them after the run (see Recorder's thread-safety).
// Empty or undefined points (no series yet, no observations in a window) are left out, never
// reported as zero; scalar results are NaN when nothing qualifies.
#pragma once

#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/report/recorder.h"

namespace chatscale::sim {

// Points (t[i], v[i]) with t in simulated seconds, increasing.
struct TimeSeries {
  std::string name;
  std::vector<double> t;
  std::vector<double> v;
  size_t size() const { return t.size(); }
};

// (label name, required value) pairs that a series must all match; empty matches every series.
using LabelFilter = std::vector<std::pair<std::string, std::string>>;
bool matches(const Series& series, const LabelFilter& filter);

inline constexpr double kNoStart = -std::numeric_limits<double>::infinity();

// Sum over the matching series of a counter or gauge at each snapshot. Counters count 0 before their
// first write, so every snapshot has a point; gauges have a point where at least one series exists.
TimeSeries sum_series(const Recorder& rec, MetricId id, const LabelFilter& filter = {}, std::string name = {});
// One summed series per distinct value of `label` (its name is that value), sorted by value.
std::vector<TimeSeries> sum_series_by_label(const Recorder& rec, MetricId id, std::string_view label,
                                            const LabelFilter& filter = {});
// Per-second rate of a cumulative series between consecutive points, placed at the later point.
TimeSeries rate_of(const TimeSeries& cumulative, std::string name = {});
// Rate over the shortest span of at least window_s ending at each point (points too early to have
// such a span are left out). window_s <= 0 gives consecutive differences.
TimeSeries windowed_rate(const TimeSeries& cumulative, double window_s, std::string name = {});
// rate_of(sum_series(...)): messages/s, bytes/s, queries/s over the run.
TimeSeries counter_rate(const Recorder& rec, MetricId id, const LabelFilter& filter = {}, std::string name = {});
std::vector<TimeSeries> counter_rate_by_label(const Recorder& rec, MetricId id, std::string_view label,
                                              const LabelFilter& filter = {});
// The highest windowed_rate of the summed counter over windows that start at or after t0.
double peak_rate(const Recorder& rec, MetricId id, const LabelFilter& filter, double window_s,
                 double t0 = kNoStart);
// Increase of the summed counter from the last snapshot at or before t0 (0 if none) to the live value.
double counter_increase(const Recorder& rec, MetricId id, const LabelFilter& filter = {}, double t0 = kNoStart);

// Prometheus histogram_quantile over one histogram: `bounds` are the finite upper bounds, ascending;
// `cumulative` holds bounds.size() + 1 cumulative counts, the last for +Inf. NaN when empty; a rank in
// the +Inf bucket gives the highest finite bound; q outside [0, 1] gives -Inf or +Inf.
double histogram_quantile(double q, std::span<const double> bounds, std::span<const double> cumulative);
// Quantile q of the observations made between consecutive snapshots (summed over matching series),
// placed at the later snapshot; windows without observations are left out. With window_s > 0 each
// point covers the shortest span of snapshots of at least window_s (smoother when samples are few).
TimeSeries histogram_quantile_series(const Recorder& rec, MetricId id, double q, const LabelFilter& filter = {},
                                     std::string name = {}, double window_s = 0);
// Quantile q of the observations after the last snapshot at or before t0, up to the live state.
double histogram_quantile_since(const Recorder& rec, MetricId id, double q, const LabelFilter& filter = {},
                                double t0 = kNoStart);
// Quantile q of the exact samples in windows [k w, (k + 1) w), placed at the window's end; windows
// without samples are left out.
TimeSeries sample_quantile_series(const Recorder& rec, SampleKind kind, double q, double window_s,
                                  std::string name = {});

// Every value multiplied by factor (bytes/s to Gbps: 8e-9).
TimeSeries scaled(TimeSeries series, double factor, std::string name = {});
// Largest value at or after t0; NaN when there is none.
double max_value(const TimeSeries& series, double t0 = kNoStart);

}  // namespace chatscale::sim
