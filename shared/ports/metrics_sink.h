// The metrics port. Shared code reports through it by catalogue id; label values come in the order of
// the metric's label names. Adapters: the in-memory sink (tests and the simulator's recorder) and
// prometheus-cpp (prod). Implementations must be thread-safe.
#pragma once

#include <initializer_list>
#include <string_view>

#include "metrics/catalogue.h"

namespace chatscale {

using LabelValues = std::initializer_list<std::string_view>;

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void add(MetricId id, LabelValues labels, double amount) = 0;      // counters
  virtual void set(MetricId id, LabelValues labels, double value) = 0;       // gauges
  virtual void change(MetricId id, LabelValues labels, double delta) = 0;    // gauges
  virtual void observe(MetricId id, LabelValues labels, double value) = 0;   // histograms
};

// Drops everything; for callers that do not record metrics.
class NullMetricsSink : public MetricsSink {
 public:
  void add(MetricId, LabelValues, double) override {}
  void set(MetricId, LabelValues, double) override {}
  void change(MetricId, LabelValues, double) override {}
  void observe(MetricId, LabelValues, double) override {}
};

}  // namespace chatscale
