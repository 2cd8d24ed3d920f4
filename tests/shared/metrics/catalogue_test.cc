#include "metrics/catalogue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include "testing/memory_metrics.h"

namespace chatscale {
namespace {

TEST(Catalogue, NamesFollowPrometheusConventions) {
  std::set<std::string_view> names;
  const std::regex valid("^chatscale_[a-z0-9_]+$");
  for (const auto& def : metric_catalogue()) {
    std::string name(def.name);
    EXPECT_TRUE(std::regex_match(name, valid)) << name;
    EXPECT_TRUE(names.insert(def.name).second) << "duplicate " << name;
    EXPECT_FALSE(def.help.empty()) << name;
    bool total = name.size() > 6 && name.ends_with("_total");
    EXPECT_EQ(def.type == MetricType::kCounter, total) << name << ": counters and only counters end in _total";
    if (def.type == MetricType::kHistogram) {
      ASSERT_FALSE(def.buckets.empty()) << name;
      EXPECT_TRUE(std::is_sorted(def.buckets.begin(), def.buckets.end())) << name;
      EXPECT_TRUE(name.ends_with("_seconds") || name.ends_with("_size")) << name;
    } else {
      EXPECT_TRUE(def.buckets.empty()) << name;
    }
    for (auto label : def.labels) EXPECT_NE(label, "mode") << "mode is added by the runtime";
  }
}

TEST(Catalogue, IdsIndexTheCatalogue) {
  auto all = metric_catalogue();
  ASSERT_EQ(all.size(), static_cast<size_t>(MetricId::kCount_));
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(&metric_def(static_cast<MetricId>(i)), &all[i]);
}

TEST(Catalogue, TtftBucketsAreVllms) {
  const auto& b = ttft_buckets();
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_DOUBLE_EQ(b.back(), 2560.0);
  EXPECT_EQ(metric_def(MetricId::kTimeToFirstToken).buckets, b);
}

TEST(MemoryMetrics, CountersGaugesHistograms) {
  testing::MemoryMetrics m;
  m.add(MetricId::kMessages, {"free", "ok"}, 1);
  m.add(MetricId::kMessages, {"free", "ok"}, 2);
  m.add(MetricId::kMessages, {"plus", "ok"}, 1);
  EXPECT_EQ(m.value(MetricId::kMessages, {"free", "ok"}), 3);
  EXPECT_EQ(m.total(MetricId::kMessages), 4);
  m.change(MetricId::kActiveStreams, {}, 1);
  m.change(MetricId::kActiveStreams, {}, -1);
  EXPECT_EQ(m.value(MetricId::kActiveStreams), 0);
  m.observe(MetricId::kTimeToFirstToken, {"free"}, 0.001);  // lands in the first bucket (le)
  m.observe(MetricId::kTimeToFirstToken, {"free"}, 1e6);    // +Inf
  auto h = m.histogram(MetricId::kTimeToFirstToken, {"free"});
  EXPECT_EQ(h.count, 2);
  EXPECT_EQ(h.bucket_counts.front(), 1);
  EXPECT_EQ(h.bucket_counts.back(), 1);
}

}  // namespace
}  // namespace chatscale
