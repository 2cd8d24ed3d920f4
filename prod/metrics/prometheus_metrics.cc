#include "prod/metrics/prometheus_metrics.h"

#include <algorithm>
#include <cassert>
#include <mutex>

#include <prometheus/text_serializer.h>

namespace chatscale {
namespace {

template <typename M>
prometheus::Family<M>& build_family(prometheus::detail::Builder<M> builder, const MetricDef& def,
                                    const std::string& mode, prometheus::Registry& registry) {
  return builder.Name(std::string(def.name))
      .Help(std::string(def.help))
      .Labels({{"mode", mode}})
      .Register(registry);
}

prometheus::MetricType prometheus_type(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

// The registry's families in catalogue order, with an empty family (HELP and TYPE only) for each
// metric that has no series yet.
class CatalogueView : public prometheus::Collectable {
 public:
  explicit CatalogueView(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::map<std::string, prometheus::MetricFamily, std::less<>> by_name;
    for (auto& family : registry_->Collect()) {
      std::string name = family.name;
      by_name.emplace(std::move(name), std::move(family));
    }
    std::vector<prometheus::MetricFamily> out;
    out.reserve(metric_catalogue().size());
    for (const MetricDef& def : metric_catalogue()) {
      auto it = by_name.find(def.name);
      if (it != by_name.end()) {
        out.push_back(std::move(it->second));
      } else {
        out.push_back({std::string(def.name), std::string(def.help), prometheus_type(def.type), {}});
      }
    }
    return out;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace

bool PrometheusMetrics::LabelLess::operator()(const std::vector<std::string>& a,
                                              const std::vector<std::string>& b) const {
  return a < b;
}

bool PrometheusMetrics::LabelLess::operator()(const std::vector<std::string>& a,
                                              std::span<const std::string_view> b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

bool PrometheusMetrics::LabelLess::operator()(std::span<const std::string_view> a,
                                              const std::vector<std::string>& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

PrometheusMetrics::PrometheusMetrics(std::string mode)
    : mode_(std::move(mode)),
      registry_(std::make_shared<prometheus::Registry>()),
      collectable_(std::make_shared<CatalogueView>(registry_)) {
  for (const MetricDef& def : metric_catalogue()) {
    auto slot = std::make_unique<Slot>();
    slot->def = &def;
    switch (def.type) {
      case MetricType::kCounter:
        slot->family = &build_family(prometheus::BuildCounter(), def, mode_, *registry_);
        break;
      case MetricType::kGauge:
        slot->family = &build_family(prometheus::BuildGauge(), def, mode_, *registry_);
        break;
      case MetricType::kHistogram:
        slot->family = &build_family(prometheus::BuildHistogram(), def, mode_, *registry_);
        slot->buckets.assign(def.buckets.begin(), def.buckets.end());
        break;
    }
    slots_.push_back(std::move(slot));
  }
  // Label-less series exist from the start, at zero, so a scrape shows them before any event.
  for (const MetricDef& def : metric_catalogue()) {
    if (!def.labels.empty()) continue;
    switch (def.type) {
      case MetricType::kCounter:
        series<prometheus::Counter>(def.id, {});
        break;
      case MetricType::kGauge:
        series<prometheus::Gauge>(def.id, {});
        break;
      case MetricType::kHistogram:
        series<prometheus::Histogram>(def.id, {});
        break;
    }
  }
}

PrometheusMetrics::~PrometheusMetrics() = default;

template <typename M>
M* PrometheusMetrics::add_series(Slot& slot, LabelValues labels) {
  prometheus::Labels named;
  size_t i = 0;
  for (std::string_view value : labels) named.emplace(slot.def->labels[i++], value);
  auto& family = *std::get<prometheus::Family<M>*>(slot.family);
  if constexpr (std::is_same_v<M, prometheus::Histogram>) {
    return &family.Add(named, slot.buckets);
  } else {
    return &family.Add(named);
  }
}

template <typename M>
M* PrometheusMetrics::series(MetricId id, LabelValues labels) {
  auto index = static_cast<size_t>(id);
  bool known = index < slots_.size();
  assert(known && "metric id outside the catalogue");
  if (!known) return nullptr;
  Slot& slot = *slots_[index];
  bool matches =
      std::holds_alternative<prometheus::Family<M>*>(slot.family) && labels.size() == slot.def->labels.size();
  assert(matches && "metric type or label count does not match the catalogue");
  if (!matches) return nullptr;

  std::span<const std::string_view> key(labels.begin(), labels.size());
  {
    std::shared_lock lock(slot.mu);
    auto it = slot.series.find(key);
    if (it != slot.series.end()) return std::get<M*>(it->second);
  }
  std::unique_lock lock(slot.mu);
  auto it = slot.series.find(key);
  if (it != slot.series.end()) return std::get<M*>(it->second);
  M* created = add_series<M>(slot, labels);
  slot.series.emplace(std::vector<std::string>(labels.begin(), labels.end()), created);
  return created;
}

void PrometheusMetrics::add(MetricId id, LabelValues labels, double amount) {
  if (auto* counter = series<prometheus::Counter>(id, labels)) counter->Increment(amount);
}

void PrometheusMetrics::set(MetricId id, LabelValues labels, double value) {
  if (auto* gauge = series<prometheus::Gauge>(id, labels)) gauge->Set(value);
}

void PrometheusMetrics::change(MetricId id, LabelValues labels, double delta) {
  if (auto* gauge = series<prometheus::Gauge>(id, labels)) gauge->Increment(delta);
}

void PrometheusMetrics::observe(MetricId id, LabelValues labels, double value) {
  if (auto* histogram = series<prometheus::Histogram>(id, labels)) histogram->Observe(value);
}

std::string PrometheusMetrics::serialize_text() const {
  return prometheus::TextSerializer().Serialize(collectable_->Collect());
}

}  // namespace chatscale
