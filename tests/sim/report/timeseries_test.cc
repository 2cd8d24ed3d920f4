#include "sim/report/timeseries.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

using M = MetricId;

// A counter at 0, 150, 450, 450, 1050, 1200 on snapshots every 15 s.
Recorder& counter_recorder(Recorder& rec) {
  const double values[] = {0, 150, 450, 450, 1050, 1200};
  double last = 0;
  for (int i = 0; i < 6; ++i) {
    if (values[i] > last) rec.full_scale().add(M::kMessages, {"free", "ok"}, (values[i] - last) * 2 / 3);
    if (values[i] > last) rec.full_scale().add(M::kMessages, {"plus", "ok"}, (values[i] - last) / 3);
    last = values[i];
    rec.snapshot(15.0 * i);
  }
  return rec;
}

TEST(TimeSeriesTest, SumAndRateFromCounterDifferences) {
  Recorder rec;
  counter_recorder(rec);
  TimeSeries sum = sum_series(rec, M::kMessages);
  EXPECT_EQ(sum.t, (std::vector<double>{0, 15, 30, 45, 60, 75}));
  ASSERT_EQ(sum.v.size(), 6u);
  EXPECT_NEAR(sum.v[5], 1200, 1e-9);
  TimeSeries rate = counter_rate(rec, M::kMessages, {}, "messages/s");
  EXPECT_EQ(rate.name, "messages/s");
  EXPECT_EQ(rate.t, (std::vector<double>{15, 30, 45, 60, 75}));
  std::vector<double> expected = {10, 20, 0, 40, 10};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(rate.v[i], expected[i], 1e-9) << i;
  TimeSeries plus = counter_rate(rec, M::kMessages, {{"tier", "plus"}});
  EXPECT_NEAR(plus.v[3], 40.0 / 3, 1e-9);
}

TEST(TimeSeriesTest, WindowedRatesAndPeaks) {
  Recorder rec;
  counter_recorder(rec);
  TimeSeries w30 = windowed_rate(sum_series(rec, M::kMessages), 30);
  EXPECT_EQ(w30.t, (std::vector<double>{30, 45, 60, 75}));
  std::vector<double> expected = {15, 10, 20, 25};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(w30.v[i], expected[i], 1e-9) << i;
  EXPECT_NEAR(peak_rate(rec, M::kMessages, {}, 30), 25, 1e-9);
  EXPECT_NEAR(peak_rate(rec, M::kMessages, {}, 60), 17.5, 1e-9);
  EXPECT_NEAR(peak_rate(rec, M::kMessages, {}, 15), 40, 1e-9);
  // Windows that start at or after t0 = 20 (so at 30 or later): only [30, 60] and [45, 75].
  EXPECT_NEAR(peak_rate(rec, M::kMessages, {}, 30, 20), 25, 1e-9);
  EXPECT_NEAR(peak_rate(rec, M::kMessages, {}, 30, 31), 25, 1e-9);
  EXPECT_TRUE(std::isnan(peak_rate(rec, M::kMessages, {}, 30, 50)));
  EXPECT_EQ(peak_rate(rec, M::kMessagesLost, {}, 30), 0);  // a counter never written stays at 0
}

TEST(TimeSeriesTest, CounterIncreaseFromASnapshot) {
  Recorder rec;
  counter_recorder(rec);
  rec.full_scale().add(M::kMessages, {"free", "ok"}, 100);  // after the last snapshot
  EXPECT_NEAR(counter_increase(rec, M::kMessages), 1300, 1e-9);
  EXPECT_NEAR(counter_increase(rec, M::kMessages, {}, 45), 1300 - 450, 1e-9);
  EXPECT_NEAR(counter_increase(rec, M::kMessages, {}, 50), 1300 - 450, 1e-9);  // last snapshot <= 50 is 45
  EXPECT_NEAR(counter_increase(rec, M::kMessages, {{"tier", "plus"}}, 60), 150.0 / 3, 1e-9);
}

TEST(TimeSeriesTest, GaugesPerLabelValue) {
  Recorder rec;
  rec.full_scale().set(M::kDbReplicaLag, {"r1"}, 0.1);
  rec.snapshot(0);
  rec.full_scale().set(M::kDbReplicaLag, {"r2"}, 0.5);
  rec.full_scale().set(M::kDbReplicaLag, {"r1"}, 0.2);
  rec.snapshot(15);
  auto per = sum_series_by_label(rec, M::kDbReplicaLag, "replica");
  ASSERT_EQ(per.size(), 2u);
  EXPECT_EQ(per[0].name, "r1");
  EXPECT_EQ(per[0].t, (std::vector<double>{0, 15}));
  EXPECT_EQ(per[0].v, (std::vector<double>{0.1, 0.2}));
  EXPECT_EQ(per[1].name, "r2");
  EXPECT_EQ(per[1].t, (std::vector<double>{15}));  // a gauge has no point before it exists
  EXPECT_DOUBLE_EQ(max_value(sum_series(rec, M::kDbReplicaLag)), 0.7);
  EXPECT_TRUE(sum_series_by_label(rec, M::kDbReplicaLag, "nope").empty());
}

TEST(TimeSeriesTest, HistogramQuantileLikePrometheus) {
  std::vector<double> bounds = {1, 2, 4};
  std::vector<double> cum = {10, 30, 40, 40};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, bounds, cum), 1.5);
  EXPECT_DOUBLE_EQ(histogram_quantile(0.99, bounds, cum), 3.92);
  EXPECT_DOUBLE_EQ(histogram_quantile(0.05, bounds, cum), 0.2);
  std::vector<double> with_inf = {10, 30, 40, 45};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.95, bounds, with_inf), 4);  // in +Inf: the highest bound
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, bounds, std::vector<double>{0, 0, 0, 0})));
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, bounds, std::vector<double>{1, 2})));
  EXPECT_EQ(histogram_quantile(1.5, bounds, cum), std::numeric_limits<double>::infinity());
  EXPECT_EQ(histogram_quantile(-1, bounds, cum), -std::numeric_limits<double>::infinity());
}

TEST(TimeSeriesTest, HistogramQuantilePerSnapshotWindow) {
  Recorder rec(0.5);
  rec.snapshot(0);
  // Window 1: 10 observations of 1 (le=1) and 20 of 1.5 (le=2), at full scale.
  for (int i = 0; i < 5; ++i) rec.sampled().observe(M::kGpuBatchSize, {"c1"}, 1);  // weight 2 each
  for (int i = 0; i < 20; ++i) rec.full_scale().observe(M::kGpuBatchSize, {"c2"}, 1.5);
  rec.snapshot(15);
  rec.snapshot(30);  // window 2 is empty: no point
  for (int i = 0; i < 4; ++i) rec.full_scale().observe(M::kGpuBatchSize, {"c1"}, 3);  // (2, 4]
  rec.snapshot(45);
  TimeSeries p50 = histogram_quantile_series(rec, M::kGpuBatchSize, 0.5, {}, "p50");
  EXPECT_EQ(p50.t, (std::vector<double>{15, 45}));
  // Window 1: cumulative 10, 30 of 30 -> rank 15 lies 5/20 into (1, 2]: 1.25.
  EXPECT_EQ(p50.v, (std::vector<double>{1.25, 3}));
  TimeSeries wide = histogram_quantile_series(rec, M::kGpuBatchSize, 0.5, {}, "p50", 30);  // [0, 30], [15, 45]
  EXPECT_EQ(wide.t, (std::vector<double>{30, 45}));
  EXPECT_EQ(wide.v, (std::vector<double>{1.25, 3}));
  TimeSeries c1 = histogram_quantile_series(rec, M::kGpuBatchSize, 0.5, {{"cluster", "c1"}});
  EXPECT_EQ(c1.v, (std::vector<double>{0.5, 3}));
  // Over the whole run: cumulative 10, 30, 34 -> the median (rank 17) is 1 + (7 / 20) = 1.35.
  EXPECT_DOUBLE_EQ(histogram_quantile_since(rec, M::kGpuBatchSize, 0.5), 1.35);
  // From t = 30 on: only the four 3s.
  EXPECT_DOUBLE_EQ(histogram_quantile_since(rec, M::kGpuBatchSize, 0.5, {}, 30), 3);
}

TEST(TimeSeriesTest, SampleQuantilesPerWindow) {
  Recorder rec;
  for (int i = 0; i < 10; ++i) rec.sample(SampleKind::kE2eLatency, i, i);          // window [0, 10)
  for (int i = 0; i < 4; ++i) rec.sample(SampleKind::kE2eLatency, 100 + i, 25 + i);  // window [20, 30)
  TimeSeries p50 = sample_quantile_series(rec, SampleKind::kE2eLatency, 0.5, 10, "p50");
  EXPECT_EQ(p50.t, (std::vector<double>{10, 30}));
  EXPECT_EQ(p50.v, (std::vector<double>{4.5, 101.5}));
  EXPECT_EQ(sample_quantile_series(rec, SampleKind::kE2eLatency, 0.5, 0).size(), 0u);
}

TEST(TimeSeriesTest, ScaledAndMax) {
  TimeSeries s{"bytes/s", {0, 1, 2}, {1e9, 2.5e9, std::nan("")}};
  TimeSeries g = scaled(s, 8e-9, "Gbps");
  EXPECT_EQ(g.name, "Gbps");
  EXPECT_DOUBLE_EQ(g.v[1], 20);
  EXPECT_DOUBLE_EQ(max_value(g), 20);
  EXPECT_DOUBLE_EQ(max_value(g, 0.5), 20);
  EXPECT_TRUE(std::isnan(max_value(g, 1.5)));
}

}  // namespace
}  // namespace chatscale::sim
