// PrometheusMetrics: the MetricsSink port over prometheus-cpp. Every catalogue metric
// (metrics/catalogue.h) is registered once, at construction, in a prometheus::Registry, with a
// constant `mode` label (the constructor's argument: "prod" in the server; the same adapter serves any
// other mode). Label values map to the catalogue's label names by position. Label-less metrics start
// at zero so they are exposed before their first update; labelled series appear on first use. The
// exposition lists every catalogue metric in catalogue order, with HELP and TYPE even before it has a
// series (prometheus-cpp alone would omit such families).
//
// Ownership: owns the registry; collectable() shares the exposition view with an Exposer. Thread-safety: all
// methods may be called concurrently; the series of each metric are cached per label set behind a
// reader/writer lock, so steady-state updates take a shared lock and no allocation.
// Failure behaviour: a call that does not match the catalogue (wrong metric type for the call, wrong
// number of label values) is a programming error: it asserts in debug builds and is dropped in
// release builds. Negative counter increments are dropped (prometheus-cpp semantics).
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "ports/metrics_sink.h"

namespace chatscale {

class PrometheusMetrics : public MetricsSink {
 public:
  explicit PrometheusMetrics(std::string mode);
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  void add(MetricId id, LabelValues labels, double amount) override;
  void set(MetricId id, LabelValues labels, double value) override;
  void change(MetricId id, LabelValues labels, double delta) override;
  void observe(MetricId id, LabelValues labels, double value) override;

  const std::string& mode() const { return mode_; }
  // What an HTTP exposer registers (prometheus::Exposer::RegisterCollectable): every catalogue family
  // in catalogue order. It shares the registry, so it stays valid after this object is gone.
  std::shared_ptr<prometheus::Collectable> collectable() const { return collectable_; }
  // The Prometheus text exposition (format 0.0.4) of collectable().
  std::string serialize_text() const;

 private:
  // Orders cached label sets, and compares them with a call's label values without copying them.
  struct LabelLess {
    using is_transparent = void;
    bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const;
    bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
    bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const;
  };
  using AnyFamily =
      std::variant<prometheus::Family<prometheus::Counter>*, prometheus::Family<prometheus::Gauge>*,
                   prometheus::Family<prometheus::Histogram>*>;
  using AnySeries = std::variant<prometheus::Counter*, prometheus::Gauge*, prometheus::Histogram*>;
  struct Slot {
    const MetricDef* def = nullptr;
    AnyFamily family;
    prometheus::Histogram::BucketBoundaries buckets;
    std::shared_mutex mu;
    std::map<std::vector<std::string>, AnySeries, LabelLess> series;  // guarded by mu
  };

  // The series of `id` for `labels`, created on first use; nullptr when the call does not match the
  // catalogue (metric type M or label count).
  template <typename M>
  M* series(MetricId id, LabelValues labels);
  template <typename M>
  M* add_series(Slot& slot, LabelValues labels);

  std::string mode_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::vector<std::unique_ptr<Slot>> slots_;  // by catalogue index; the vector itself never changes
};

}  // namespace chatscale
