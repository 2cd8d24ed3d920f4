#include "prod/metrics/prometheus_metrics.h"

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

namespace chatscale {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses the sample lines of a text exposition: name{k="v",...} value. Label values in these tests
// hold no quotes, commas or escapes.
std::vector<Sample> parse_samples(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    s.name = line.substr(0, std::min(brace, space));
    if (brace != std::string::npos) {
      std::string body = line.substr(brace + 1, line.rfind('}') - brace - 1);
      std::istringstream pairs(body);
      for (std::string pair; std::getline(pairs, pair, ',');) {
        size_t eq = pair.find('=');
        s.labels[pair.substr(0, eq)] = pair.substr(eq + 2, pair.size() - eq - 3);
      }
    }
    s.value = std::stod(line.substr(space + 1));
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the sample, or NaN when the exposition lacks it.
double sample(const std::string& text, const std::string& name, const Labels& labels) {
  for (const auto& s : parse_samples(text))
    if (s.name == name && s.labels == labels) return s.value;
  return std::numeric_limits<double>::quiet_NaN();
}

TEST(PrometheusMetricsTest, EveryCatalogueMetricIsExposedWithHelpAndTypeInCatalogueOrder) {
  PrometheusMetrics metrics("prod");
  std::string text = metrics.serialize_text();
  size_t last = 0;
  for (const MetricDef& def : metric_catalogue()) {
    std::string name(def.name);
    std::string help = "# HELP " + name + " " + std::string(def.help) + "\n";
    EXPECT_THAT(text, HasSubstr(help));
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " " + std::string(metric_type_name(def.type)) + "\n"));
    size_t at = text.find(help);
    EXPECT_GE(at, last) << name << " is out of catalogue order";
    if (at != std::string::npos) last = at;
  }
}

TEST(PrometheusMetricsTest, LabelLessMetricsStartAtZeroWithTheModeLabel) {
  PrometheusMetrics metrics("sim");
  std::string text = metrics.serialize_text();
  EXPECT_EQ(sample(text, "chatscale_active_streams", {{"mode", "sim"}}), 0);
  EXPECT_EQ(sample(text, "chatscale_messages_lost_total", {{"mode", "sim"}}), 0);
  EXPECT_EQ(sample(text, "chatscale_stream_egress_bytes_total", {{"mode", "sim"}}), 0);
  EXPECT_EQ(metrics.mode(), "sim");
}

TEST(PrometheusMetricsTest, CountersAddAndLabelValuesBindToTheCatalogueNamesInOrder) {
  PrometheusMetrics metrics("prod");
  metrics.add(MetricId::kMessages, {"free", "ok"}, 2);
  metrics.add(MetricId::kMessages, {"free", "ok"}, 1.5);
  metrics.add(MetricId::kMessages, {"plus", "rate_limited"}, 1);
  metrics.add(MetricId::kMessages, {"plus", "rate_limited"}, -5);  // counters never go down
  std::string text = metrics.serialize_text();
  // Catalogue labels are {tier, outcome}: the first value is the tier.
  EXPECT_EQ(sample(text, "chatscale_messages_total", {{"mode", "prod"}, {"tier", "free"}, {"outcome", "ok"}}),
            3.5);
  EXPECT_EQ(sample(text, "chatscale_messages_total",
                   {{"mode", "prod"}, {"tier", "plus"}, {"outcome", "rate_limited"}}),
            1);
  EXPECT_TRUE(std::isnan(
      sample(text, "chatscale_messages_total", {{"mode", "prod"}, {"tier", "ok"}, {"outcome", "free"}})));
  metrics.add(MetricId::kDbQueries, {"replica", "read"}, 7);  // {role, op}
  EXPECT_EQ(sample(metrics.serialize_text(), "chatscale_db_queries_total",
                   {{"mode", "prod"}, {"role", "replica"}, {"op", "read"}}),
            7);
}

TEST(PrometheusMetricsTest, GaugesSetAndChange) {
  PrometheusMetrics metrics("prod");
  metrics.set(MetricId::kGpus, {"us-east"}, 8);
  metrics.change(MetricId::kGpus, {"us-east"}, -3);
  metrics.change(MetricId::kActiveStreams, {}, 4);
  metrics.change(MetricId::kActiveStreams, {}, -1);
  metrics.set(MetricId::kDbReplicaLag, {"r1"}, 0.25);
  std::string text = metrics.serialize_text();
  EXPECT_EQ(sample(text, "chatscale_gpus", {{"mode", "prod"}, {"cluster", "us-east"}}), 5);
  EXPECT_EQ(sample(text, "chatscale_active_streams", {{"mode", "prod"}}), 3);
  EXPECT_EQ(sample(text, "chatscale_db_replica_lag_seconds", {{"mode", "prod"}, {"replica", "r1"}}), 0.25);
}

TEST(PrometheusMetricsTest, HistogramBucketsAreTheCatalogueBoundaries) {
  PrometheusMetrics metrics("prod");
  metrics.observe(MetricId::kTimeToFirstToken, {"free"}, 0.003);   // first bucket above: 0.005
  metrics.observe(MetricId::kTimeToFirstToken, {"free"}, 0.005);   // le is inclusive
  metrics.observe(MetricId::kTimeToFirstToken, {"free"}, 5000.0);  // only +Inf
  std::string text = metrics.serialize_text();
  std::vector<Sample> buckets;
  for (auto& s : parse_samples(text))
    if (s.name == "chatscale_time_to_first_token_seconds_bucket") buckets.push_back(s);
  const auto& bounds = metric_def(MetricId::kTimeToFirstToken).buckets;
  ASSERT_EQ(buckets.size(), bounds.size() + 1);
  for (size_t i = 0; i < bounds.size(); ++i) {
    EXPECT_EQ(std::stod(buckets[i].labels["le"]), bounds[i]) << i;
    EXPECT_EQ(buckets[i].value, bounds[i] < 0.005 ? 0 : 2) << buckets[i].labels["le"];
    EXPECT_EQ(buckets[i].labels["tier"], "free");
  }
  EXPECT_EQ(buckets.back().labels["le"], "+Inf");
  EXPECT_EQ(buckets.back().value, 3);
  Labels series = {{"mode", "prod"}, {"tier", "free"}};
  EXPECT_EQ(sample(text, "chatscale_time_to_first_token_seconds_count", series), 3);
  EXPECT_DOUBLE_EQ(sample(text, "chatscale_time_to_first_token_seconds_sum", series), 5000.008);
}

TEST(PrometheusMetricsTest, EveryHistogramUsesItsOwnCatalogueBuckets) {
  PrometheusMetrics metrics("prod");
  for (const MetricDef& def : metric_catalogue()) {
    if (def.type != MetricType::kHistogram) continue;
    switch (def.labels.size()) {
      case 1:
        metrics.observe(def.id, {"x"}, 1.0);
        break;
      case 2:
        metrics.observe(def.id, {"x", "y"}, 1.0);
        break;
      default:
        FAIL() << "unexpected label count for " << def.name;
    }
  }
  auto samples = parse_samples(metrics.serialize_text());
  for (const MetricDef& def : metric_catalogue()) {
    if (def.type != MetricType::kHistogram) continue;
    std::vector<double> bounds;
    for (auto& s : samples)
      if (s.name == std::string(def.name) + "_bucket" && s.labels["le"] != "+Inf")
        bounds.push_back(std::stod(s.labels["le"]));
    EXPECT_EQ(bounds, def.buckets) << def.name;
  }
}

TEST(PrometheusMetricsTest, ConcurrentUpdatesAreAllCounted) {
  PrometheusMetrics metrics("prod");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 1000; ++i) {
        metrics.add(MetricId::kHttpRequests, {"/v1/chat", (i % 2) ? "200" : "429"}, 1);
        metrics.observe(MetricId::kDbQueryDuration, {"primary", t % 2 ? "read" : "write"}, 0.001);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string text = metrics.serialize_text();
  for (const char* code : {"200", "429"}) {
    EXPECT_EQ(sample(text, "chatscale_http_requests_total",
                     {{"mode", "prod"}, {"route", "/v1/chat"}, {"code", code}}),
              2000);
  }
  EXPECT_EQ(sample(text, "chatscale_db_query_duration_seconds_count",
                   {{"mode", "prod"}, {"role", "primary"}, {"op", "read"}}),
            2000);
}

TEST(PrometheusMetricsTest, CallsThatDoNotMatchTheCatalogueAssertOrAreDropped) {
  PrometheusMetrics metrics("prod");
  EXPECT_DEBUG_DEATH(metrics.add(MetricId::kGpus, {"c1"}, 1), "does not match the catalogue");  // a gauge
  EXPECT_DEBUG_DEATH(metrics.set(MetricId::kGpus, {"c1", "extra"}, 1), "does not match the catalogue");
  EXPECT_THAT(metrics.serialize_text(), Not(HasSubstr("chatscale_gpus{")));
}

TEST(PrometheusMetricsTest, CollectableListsTheWholeCatalogueAndOutlivesTheSink) {
  std::shared_ptr<prometheus::Collectable> collectable;
  {
    PrometheusMetrics metrics("prod");
    metrics.add(MetricId::kCostDollars, {"gpu"}, 12.5);
    collectable = metrics.collectable();
  }
  auto families = collectable->Collect();
  ASSERT_EQ(families.size(), metric_catalogue().size());
  for (size_t i = 0; i < families.size(); ++i) EXPECT_EQ(families[i].name, metric_catalogue()[i].name);
  const auto& cost = families[static_cast<size_t>(MetricId::kCostDollars)];
  ASSERT_EQ(cost.metric.size(), 1u);
  EXPECT_EQ(cost.metric[0].counter.value, 12.5);
}

}  // namespace
}  // namespace chatscale
