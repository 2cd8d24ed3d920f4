// An in-memory MetricsSink: counters, gauges and histograms keyed by catalogue id and label values.
// Thread-safe. Tests read values back; the simulator's recorder builds on it.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ports/metrics_sink.h"

namespace chatscale::testing {

struct HistogramData {
  std::vector<double> bucket_counts;  // per catalogue bucket, non-cumulative, plus one for +Inf
  double sum = 0;
  double count = 0;
};

class MemoryMetrics : public MetricsSink {
 public:
  void add(MetricId id, LabelValues labels, double amount) override;
  void set(MetricId id, LabelValues labels, double value) override;
  void change(MetricId id, LabelValues labels, double delta) override;
  void observe(MetricId id, LabelValues labels, double value) override;

  // Value of a counter or gauge (0 when never touched).
  double value(MetricId id, LabelValues labels = {}) const;
  // Sum of a counter or gauge over all label values.
  double total(MetricId id) const;
  HistogramData histogram(MetricId id, LabelValues labels = {}) const;

 private:
  using Key = std::pair<MetricId, std::vector<std::string>>;
  static Key key(MetricId id, LabelValues labels);

  mutable std::mutex mu_;
  std::map<Key, double> scalars_;           // guarded by mu_
  std::map<Key, HistogramData> histograms_;  // guarded by mu_
};

}  // namespace chatscale::testing
