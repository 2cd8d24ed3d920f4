#include "testing/memory_metrics.h"

#include <algorithm>
#include <cassert>

namespace chatscale::testing {

MemoryMetrics::Key MemoryMetrics::key(MetricId id, LabelValues labels) {
  assert(labels.size() == metric_def(id).labels.size() && "label count must match the catalogue");
  std::vector<std::string> values;
  values.reserve(labels.size());
  for (auto v : labels) values.emplace_back(v);
  return {id, std::move(values)};
}

void MemoryMetrics::add(MetricId id, LabelValues labels, double amount) {
  std::lock_guard lock(mu_);
  scalars_[key(id, labels)] += amount;
}

void MemoryMetrics::set(MetricId id, LabelValues labels, double value) {
  std::lock_guard lock(mu_);
  scalars_[key(id, labels)] = value;
}

void MemoryMetrics::change(MetricId id, LabelValues labels, double delta) {
  std::lock_guard lock(mu_);
  scalars_[key(id, labels)] += delta;
}

void MemoryMetrics::observe(MetricId id, LabelValues labels, double value) {
  const auto& buckets = metric_def(id).buckets;
  std::lock_guard lock(mu_);
  auto& h = histograms_[key(id, labels)];
  if (h.bucket_counts.empty()) h.bucket_counts.assign(buckets.size() + 1, 0);
  auto it = std::lower_bound(buckets.begin(), buckets.end(), value);  // le: value <= bound
  h.bucket_counts[static_cast<size_t>(it - buckets.begin())] += 1;
  h.sum += value;
  h.count += 1;
}

double MemoryMetrics::value(MetricId id, LabelValues labels) const {
  std::lock_guard lock(mu_);
  auto it = scalars_.find(key(id, labels));
  return it == scalars_.end() ? 0 : it->second;
}

double MemoryMetrics::total(MetricId id) const {
  std::lock_guard lock(mu_);
  double sum = 0;
  for (const auto& [k, v] : scalars_)
    if (k.first == id) sum += v;
  return sum;
}

HistogramData MemoryMetrics::histogram(MetricId id, LabelValues labels) const {
  std::lock_guard lock(mu_);
  auto it = histograms_.find(key(id, labels));
  return it == histograms_.end() ? HistogramData{} : it->second;
}

}  // namespace chatscale::testing
