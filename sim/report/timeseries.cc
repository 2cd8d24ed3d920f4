#include "sim/report/timeseries.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace chatscale::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<const Series*> matching(const Recorder& rec, MetricId id, const LabelFilter& filter) {
  std::vector<const Series*> out;
  for (const Series* s : rec.series(id))
    if (matches(*s, filter)) out.push_back(s);
  return out;
}

// Sums the snapshot values of `group`; counters and histograms count 0 before a series exists.
TimeSeries sum_of(const Recorder& rec, MetricId id, const std::vector<const Series*>& group, std::string name) {
  const auto& times = rec.snapshot_times();
  std::vector<double> sum(times.size(), 0);
  std::vector<char> present(times.size(), 0);
  for (const Series* s : group) {
    for (size_t k = 0; k < s->values.size(); ++k) {
      sum[s->first_snapshot + k] += s->values[k];
      present[s->first_snapshot + k] = 1;
    }
  }
  bool zero_before = metric_def(id).type != MetricType::kGauge;
  TimeSeries out{std::move(name), {}, {}};
  for (size_t i = 0; i < times.size(); ++i) {
    if (!zero_before && !present[i]) continue;
    out.t.push_back(times[i]);
    out.v.push_back(sum[i]);
  }
  return out;
}

// Matching series grouped by the value of `label` (none when the metric has no such label).
std::map<std::string, std::vector<const Series*>> group_by(const Recorder& rec, MetricId id, std::string_view label,
                                                            const LabelFilter& filter) {
  std::map<std::string, std::vector<const Series*>> groups;
  const auto& names = metric_def(id).labels;
  auto it = std::find(names.begin(), names.end(), label);
  if (it == names.end()) return groups;
  auto index = static_cast<size_t>(it - names.begin());
  for (const Series* s : matching(rec, id, filter)) groups[s->labels[index]].push_back(s);
  return groups;
}

struct Window {
  double start;
  double end;
  double rate;
};

// For each point i, the index j of the shortest span [t[j], t[i]] of at least window_s (j = i - 1 when
// window_s <= 0); points too early to have one are left out.
std::vector<std::pair<size_t, size_t>> spans(const std::vector<double>& t, double window_s) {
  std::vector<std::pair<size_t, size_t>> out;
  double span = window_s * (1 - 1e-9);  // a 60 s window of 15 s steps must not become 75 s by rounding
  size_t j = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    if (window_s <= 0) {
      j = i - 1;
    } else {
      while (j + 1 < i && t[i] - t[j + 1] >= span) ++j;
      if (!(t[i] - t[j] >= span)) continue;
    }
    if (t[i] > t[j]) out.emplace_back(j, i);
  }
  return out;
}

std::vector<Window> windows(const TimeSeries& c, double window_s) {
  std::vector<Window> out;
  for (auto [j, i] : spans(c.t, window_s)) out.push_back({c.t[j], c.t[i], (c.v[i] - c.v[j]) / (c.t[i] - c.t[j])});
  return out;
}

// Cumulative bucket counts per snapshot, summed over the matching series (flattened, stride nb).
std::vector<double> summed_buckets(const Recorder& rec, MetricId id, const LabelFilter& filter, size_t nb) {
  std::vector<double> cum(rec.snapshot_times().size() * nb, 0);
  for (const Series* s : matching(rec, id, filter)) {
    for (size_t k = 0; k < s->values.size(); ++k) {
      const double* src = s->cumulative_at(k);
      double* dst = cum.data() + (s->first_snapshot + k) * nb;
      for (size_t b = 0; b < nb; ++b) dst[b] += src[b];
    }
  }
  return cum;
}

}  // namespace

bool matches(const Series& series, const LabelFilter& filter) {
  const auto& names = metric_def(series.id).labels;
  for (const auto& [name, value] : filter) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) return false;
    if (series.labels[static_cast<size_t>(it - names.begin())] != value) return false;
  }
  return true;
}

TimeSeries sum_series(const Recorder& rec, MetricId id, const LabelFilter& filter, std::string name) {
  return sum_of(rec, id, matching(rec, id, filter), std::move(name));
}

std::vector<TimeSeries> sum_series_by_label(const Recorder& rec, MetricId id, std::string_view label,
                                            const LabelFilter& filter) {
  std::vector<TimeSeries> out;
  for (const auto& [value, group] : group_by(rec, id, label, filter)) out.push_back(sum_of(rec, id, group, value));
  return out;
}

TimeSeries rate_of(const TimeSeries& cumulative, std::string name) { return windowed_rate(cumulative, 0, std::move(name)); }

TimeSeries windowed_rate(const TimeSeries& cumulative, double window_s, std::string name) {
  TimeSeries out{name.empty() ? cumulative.name : std::move(name), {}, {}};
  for (const Window& w : windows(cumulative, window_s)) {
    out.t.push_back(w.end);
    out.v.push_back(w.rate);
  }
  return out;
}

TimeSeries counter_rate(const Recorder& rec, MetricId id, const LabelFilter& filter, std::string name) {
  return rate_of(sum_series(rec, id, filter), std::move(name));
}

std::vector<TimeSeries> counter_rate_by_label(const Recorder& rec, MetricId id, std::string_view label,
                                              const LabelFilter& filter) {
  std::vector<TimeSeries> out;
  for (const auto& s : sum_series_by_label(rec, id, label, filter)) out.push_back(rate_of(s));
  return out;
}

double peak_rate(const Recorder& rec, MetricId id, const LabelFilter& filter, double window_s, double t0) {
  double peak = kNaN;
  for (const Window& w : windows(sum_series(rec, id, filter), window_s))
    if (w.start >= t0 && !(w.rate <= peak)) peak = w.rate;
  return peak;
}

double counter_increase(const Recorder& rec, MetricId id, const LabelFilter& filter, double t0) {
  const auto& times = rec.snapshot_times();
  auto after = std::upper_bound(times.begin(), times.end(), t0);  // first snapshot after t0
  bool has_base = after != times.begin();
  auto base = static_cast<size_t>(after - times.begin()) - (has_base ? 1 : 0);
  double increase = 0;
  for (const Series* s : matching(rec, id, filter)) {
    increase += s->value;
    if (has_base && base >= s->first_snapshot && base - s->first_snapshot < s->values.size())
      increase -= s->values[base - s->first_snapshot];
  }
  return increase;
}

double histogram_quantile(double q, std::span<const double> bounds, std::span<const double> cumulative) {
  if (std::isnan(q) || cumulative.size() != bounds.size() + 1) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::vector<double> cum(cumulative.begin(), cumulative.end());
  for (size_t i = 1; i < cum.size(); ++i) cum[i] = std::max(cum[i], cum[i - 1]);  // as Prometheus: monotone
  double total = cum.back();
  if (!(total > 0)) return kNaN;
  double rank = q * total;
  auto b = static_cast<size_t>(std::lower_bound(cum.begin(), cum.end() - 1, rank) - cum.begin());
  if (b == bounds.size()) return bounds.empty() ? kNaN : bounds.back();
  if (b == 0 && bounds[0] <= 0) return bounds[0];
  double start = b == 0 ? 0 : bounds[b - 1];
  double end = bounds[b];
  double count = cum[b] - (b == 0 ? 0 : cum[b - 1]);
  if (b > 0) rank -= cum[b - 1];
  if (!(count > 0)) return start;
  return start + (end - start) * (rank / count);
}

TimeSeries histogram_quantile_series(const Recorder& rec, MetricId id, double q, const LabelFilter& filter,
                                     std::string name, double window_s) {
  const auto& bounds = metric_def(id).buckets;
  const auto& times = rec.snapshot_times();
  size_t nb = bounds.size() + 1;
  std::vector<double> cum = summed_buckets(rec, id, filter, nb);
  TimeSeries out{std::move(name), {}, {}};
  std::vector<double> diff(nb);
  for (auto [j, i] : spans(times, window_s)) {
    for (size_t b = 0; b < nb; ++b) diff[b] = cum[i * nb + b] - cum[j * nb + b];
    double v = histogram_quantile(q, bounds, diff);
    if (std::isnan(v)) continue;
    out.t.push_back(times[i]);
    out.v.push_back(v);
  }
  return out;
}

double histogram_quantile_since(const Recorder& rec, MetricId id, double q, const LabelFilter& filter, double t0) {
  const auto& bounds = metric_def(id).buckets;
  const auto& times = rec.snapshot_times();
  size_t nb = bounds.size() + 1;
  std::vector<double> live(nb, 0);
  for (const Series* s : matching(rec, id, filter)) {
    double running = 0;
    for (size_t b = 0; b < nb; ++b) live[b] += (running += s->buckets[b]);
  }
  auto after = std::upper_bound(times.begin(), times.end(), t0);
  if (after != times.begin()) {
    auto base = static_cast<size_t>(after - times.begin()) - 1;
    std::vector<double> cum = summed_buckets(rec, id, filter, nb);
    for (size_t b = 0; b < nb; ++b) live[b] -= cum[base * nb + b];
  }
  return histogram_quantile(q, bounds, live);
}

TimeSeries sample_quantile_series(const Recorder& rec, SampleKind kind, double q, double window_s, std::string name) {
  TimeSeries out{std::move(name), {}, {}};
  const auto& values = rec.sample_values(kind);
  const auto& times = rec.sample_times(kind);
  if (!(window_s > 0) || values.empty()) return out;
  std::map<long long, std::vector<double>> buckets;  // window index -> its samples
  for (size_t i = 0; i < values.size(); ++i)
    buckets[static_cast<long long>(std::floor(times[i] / window_s))].push_back(values[i]);
  for (auto& [k, v] : buckets) {
    out.t.push_back(static_cast<double>(k + 1) * window_s);
    out.v.push_back(quantile_in_place(v, q));
  }
  return out;
}

TimeSeries scaled(TimeSeries series, double factor, std::string name) {
  for (double& v : series.v) v *= factor;
  if (!name.empty()) series.name = std::move(name);
  return series;
}

double max_value(const TimeSeries& series, double t0) {
  double best = kNaN;
  for (size_t i = 0; i < series.size(); ++i)
    if (series.t[i] >= t0 && !std::isnan(series.v[i]) && !(series.v[i] <= best)) best = series.v[i];
  return best;
}

}  // namespace chatscale::sim
