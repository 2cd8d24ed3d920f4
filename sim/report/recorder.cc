#include "sim/report/recorder.h"

#include <algorithm>
#include <cmath>

namespace chatscale::sim {
namespace {

// FNV-1a over the id and the label values, with a separator so ("ab","c") and ("a","bc") differ.
struct Fnv {
  std::uint64_t h = 1469598103934665603ULL;
  void byte(unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  void text(std::string_view s) {
    for (char c : s) byte(static_cast<unsigned char>(c));
    byte(0x1f);
  }
};

std::string_view op_name(int op) {
  static constexpr std::string_view kNames[] = {"add", "set", "change", "observe"};
  return kNames[op];
}

}  // namespace

std::string_view sample_kind_name(SampleKind kind) {
  switch (kind) {
    case SampleKind::kTimeToFirstToken: return "time_to_first_token";
    case SampleKind::kE2eLatency: return "e2e_latency";
    case SampleKind::kTimePerOutputToken: return "time_per_output_token";
    case SampleKind::kReplicaLag: return "replica_lag";
    case SampleKind::kDbReadLatency: return "db_read_latency";
    case SampleKind::kDbWriteLatency: return "db_write_latency";
    case SampleKind::kQueueWait: return "queue_wait";
    case SampleKind::kCount_: break;
  }
  return "unknown";
}

double quantile_in_place(std::vector<double>& v, double q) {
  if (v.empty() || std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  auto lo_it = v.begin() + static_cast<std::ptrdiff_t>(lo);
  std::nth_element(v.begin(), lo_it, v.end());
  double a = *lo_it;
  if (lo + 1 >= v.size()) return a;
  double b = *std::min_element(lo_it + 1, v.end());  // the next order statistic
  return a + (rank - static_cast<double>(lo)) * (b - a);
}

const double* Series::cumulative_at(size_t k) const { return cumulative.data() + k * (buckets.size()); }

size_t Recorder::KeyHash::operator()(const Series* s) const {
  Fnv f;
  f.byte(static_cast<unsigned char>(s->id));
  for (const auto& l : s->labels) f.text(l);
  return static_cast<size_t>(f.h);
}

size_t Recorder::KeyHash::operator()(const Probe& p) const {
  Fnv f;
  f.byte(static_cast<unsigned char>(p.id));
  for (auto l : p.labels) f.text(l);
  return static_cast<size_t>(f.h);
}

bool Recorder::KeyEq::operator()(const Probe& p, const Series* s) const {
  if (p.id != s->id || p.labels.size() != s->labels.size()) return false;
  return std::equal(p.labels.begin(), p.labels.end(), s->labels.begin(),
                    [](std::string_view a, const std::string& b) { return a == b; });
}

Recorder::Recorder(double sample_fraction)
    : fraction_(sample_fraction > 0 && sample_fraction <= 1 ? sample_fraction : 1.0),
      weight_(1.0 / fraction_),
      samples_(static_cast<size_t>(SampleKind::kCount_)) {}

void Recorder::View::add(MetricId id, LabelValues labels, double amount) {
  owner_->apply(Op::kAdd, id, labels, amount, sampled_ ? owner_->weight_ : 1.0);
}
void Recorder::View::set(MetricId id, LabelValues labels, double value) {
  owner_->apply(Op::kSet, id, labels, value, sampled_ ? owner_->weight_ : 1.0);
}
void Recorder::View::change(MetricId id, LabelValues labels, double delta) {
  owner_->apply(Op::kChange, id, labels, delta, sampled_ ? owner_->weight_ : 1.0);
}
void Recorder::View::observe(MetricId id, LabelValues labels, double value) {
  owner_->apply(Op::kObserve, id, labels, value, sampled_ ? owner_->weight_ : 1.0);
}

void Recorder::apply(Op op, MetricId id, LabelValues labels, double v, double weight) {
  std::lock_guard lock(mu_);
  if (!check(op, id, labels, v)) return;
  Series& s = series_for(id, labels);
  switch (op) {
    case Op::kAdd:
    case Op::kChange: s.value += v * weight; break;
    case Op::kSet: s.value = v * weight; break;
    case Op::kObserve: {
      const auto& bounds = metric_def(id).buckets;
      auto it = std::lower_bound(bounds.begin(), bounds.end(), v);  // le: v <= bound
      s.buckets[static_cast<size_t>(it - bounds.begin())] += weight;
      s.count += weight;
      s.sum += v * weight;
      break;
    }
  }
}

bool Recorder::check(Op op, MetricId id, LabelValues labels, double v) {
  int raw = static_cast<int>(id);
  if (raw < 0 || raw >= static_cast<int>(MetricId::kCount_)) {
    reject("metric id " + std::to_string(raw) + " is not in the catalogue");
    return false;
  }
  const MetricDef& def = metric_def(id);
  bool fits = (def.type == MetricType::kCounter && op == Op::kAdd) ||
              (def.type == MetricType::kGauge && (op == Op::kSet || op == Op::kChange)) ||
              (def.type == MetricType::kHistogram && op == Op::kObserve);
  bool count_ok = labels.size() == def.labels.size();
  bool value_ok = std::isfinite(v) && !(op == Op::kAdd && v < 0);
  if (fits && count_ok && value_ok) return true;
  // The message is built only on the (rare) rejection path; the accepted path does not allocate.
  std::string what = std::string(op_name(static_cast<int>(op))) + " on " + std::string(def.name) + ": ";
  if (!count_ok) {
    what += std::to_string(labels.size()) + " label values, the catalogue has " + std::to_string(def.labels.size());
  } else if (!fits) {
    what += "not valid for a " + std::string(metric_type_name(def.type));
  } else {
    what += "bad value " + std::to_string(v);
  }
  reject(std::move(what));
  return false;
}

Series& Recorder::series_for(MetricId id, LabelValues labels) {
  auto it = index_.find(Probe{id, labels});
  if (it != index_.end()) return **it;
  Series& s = series_.emplace_back();
  s.id = id;
  s.labels.reserve(labels.size());
  for (auto l : labels) s.labels.emplace_back(l);
  if (metric_def(id).type == MetricType::kHistogram) s.buckets.assign(metric_def(id).buckets.size() + 1, 0);
  s.first_snapshot = times_.size();
  index_.insert(&s);
  return s;
}

void Recorder::reject(std::string why) {
  if (rejected_++ == 0) first_rejection_ = std::move(why);
}

void Recorder::append_snapshot(Series& s) const {
  if (s.buckets.empty()) {
    s.values.push_back(s.value);
    return;
  }
  double running = 0;
  for (double b : s.buckets) {
    running += b;
    s.cumulative.push_back(running);
  }
  s.values.push_back(running);  // the count is the +Inf bucket exactly (OpenMetrics requires equality)
  s.sums.push_back(s.sum);
}

void Recorder::drop_last_snapshot(Series& s) const {
  s.values.pop_back();
  if (s.buckets.empty()) return;
  s.cumulative.resize(s.cumulative.size() - s.buckets.size());
  s.sums.pop_back();
}

void Recorder::snapshot(double t) {
  std::lock_guard lock(mu_);
  bool replace = !times_.empty() && !(t > times_.back());
  if (!replace) times_.push_back(t);
  for (Series& s : series_) {
    if (replace && s.values.empty()) s.first_snapshot = times_.size() - 1;
    if (replace && !s.values.empty()) drop_last_snapshot(s);
    append_snapshot(s);
  }
}

void Recorder::sample(SampleKind kind, double value, double t) {
  std::lock_guard lock(mu_);
  int k = static_cast<int>(kind);
  if (k < 0 || k >= static_cast<int>(SampleKind::kCount_) || !std::isfinite(value) || !std::isfinite(t)) {
    reject("sample of kind " + std::to_string(k) + ": bad kind, value or time");
    return;
  }
  auto& s = samples_[static_cast<size_t>(k)];
  s.values.push_back(static_cast<float>(value));
  s.times.push_back(static_cast<float>(t));
}

std::vector<const Series*> Recorder::series(MetricId id) const {
  std::lock_guard lock(mu_);
  std::vector<const Series*> out;
  for (const Series& s : series_)
    if (s.id == id) out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const Series* a, const Series* b) { return a->labels < b->labels; });
  return out;
}

const Series* Recorder::find(MetricId id, LabelValues labels) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(Probe{id, labels});
  return it == index_.end() ? nullptr : *it;
}

double Recorder::value(MetricId id, LabelValues labels) const {
  const Series* s = find(id, labels);
  return s == nullptr ? 0 : s->value;
}

size_t Recorder::sample_count(SampleKind kind) const {
  std::lock_guard lock(mu_);
  return samples_.at(static_cast<size_t>(kind)).values.size();
}

std::vector<double> Recorder::window(SampleKind kind, double t0, double t1) const {
  const Samples& s = samples_.at(static_cast<size_t>(kind));
  std::vector<double> out;
  out.reserve(s.values.size());
  for (size_t i = 0; i < s.values.size(); ++i)
    if (s.times[i] >= t0 && s.times[i] < t1) out.push_back(s.values[i]);
  return out;
}

double Recorder::sample_quantile(SampleKind kind, double q, double t0, double t1) const {
  std::lock_guard lock(mu_);
  std::vector<double> v = window(kind, t0, t1);
  return quantile_in_place(v, q);
}

double Recorder::sample_max(SampleKind kind, double t0, double t1) const {
  std::lock_guard lock(mu_);
  std::vector<double> v = window(kind, t0, t1);
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  return *std::max_element(v.begin(), v.end());
}

const std::vector<float>& Recorder::sample_values(SampleKind kind) const {
  std::lock_guard lock(mu_);
  return samples_.at(static_cast<size_t>(kind)).values;
}

const std::vector<float>& Recorder::sample_times(SampleKind kind) const {
  std::lock_guard lock(mu_);
  return samples_.at(static_cast<size_t>(kind)).times;
}

std::uint64_t Recorder::rejected_calls() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

std::string Recorder::first_rejection() const {
  std::lock_guard lock(mu_);
  return first_rejection_;
}

}  // namespace chatscale::sim
