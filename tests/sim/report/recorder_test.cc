#include "sim/report/recorder.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

using M = MetricId;

TEST(RecorderTest, SampledCountersReadAtFullScale) {
  Recorder rec(0.01);
  for (int i = 0; i < 3; ++i) rec.sampled().add(M::kMessages, {"free", "ok"}, 1);
  EXPECT_DOUBLE_EQ(rec.value(M::kMessages, {"free", "ok"}), 300);
  rec.full_scale().add(M::kMessages, {"free", "ok"}, 5);
  EXPECT_DOUBLE_EQ(rec.value(M::kMessages, {"free", "ok"}), 305);
  EXPECT_DOUBLE_EQ(rec.value(M::kMessages, {"plus", "ok"}), 0);
}

TEST(RecorderTest, SampledGaugesScaleValuesAndDeltas) {
  Recorder rec(0.1);
  rec.sampled().change(M::kActiveStreams, {}, 1);
  rec.sampled().change(M::kActiveStreams, {}, 1);
  rec.sampled().change(M::kActiveStreams, {}, -1);
  EXPECT_DOUBLE_EQ(rec.value(M::kActiveStreams), 10);
  rec.full_scale().set(M::kDbReplicaLag, {"replica-1"}, 0.25);
  EXPECT_DOUBLE_EQ(rec.value(M::kDbReplicaLag, {"replica-1"}), 0.25);
  rec.sampled().set(M::kGpus, {"us-east"}, 2);
  EXPECT_DOUBLE_EQ(rec.value(M::kGpus, {"us-east"}), 20);
}

TEST(RecorderTest, SampledHistogramObservationsKeepValueAndWeighCount) {
  Recorder rec(0.25);
  rec.sampled().observe(M::kTimeToFirstToken, {"free"}, 0.03);  // bucket le=0.04
  rec.full_scale().observe(M::kTimeToFirstToken, {"free"}, 3000);  // +Inf
  const Series* s = rec.find(M::kTimeToFirstToken, {"free"});
  ASSERT_NE(s, nullptr);
  const auto& bounds = metric_def(M::kTimeToFirstToken).buckets;
  ASSERT_EQ(s->buckets.size(), bounds.size() + 1);
  size_t le_004 = 4;
  ASSERT_DOUBLE_EQ(bounds[le_004], 0.04);
  EXPECT_DOUBLE_EQ(s->buckets[le_004], 4);
  EXPECT_DOUBLE_EQ(s->buckets.back(), 1);
  EXPECT_DOUBLE_EQ(s->count, 5);
  EXPECT_DOUBLE_EQ(s->sum, 0.03 * 4 + 3000);
  // An observation equal to a bound falls in that bound's bucket (le is "less or equal").
  rec.full_scale().observe(M::kTimeToFirstToken, {"free"}, 0.04);
  EXPECT_DOUBLE_EQ(s->buckets[le_004], 5);
}

TEST(RecorderTest, SnapshotsAppendEveryExistingSeries) {
  Recorder rec(0.5);
  rec.sampled().add(M::kMessages, {"free", "ok"}, 1);
  rec.snapshot(0);
  rec.sampled().add(M::kMessages, {"free", "ok"}, 2);
  rec.full_scale().set(M::kActiveStreams, {}, 7);  // appears after the first snapshot
  rec.full_scale().observe(M::kGpuBatchSize, {"c1"}, 3);
  rec.snapshot(15);
  rec.snapshot(30);
  EXPECT_EQ(rec.snapshot_times(), (std::vector<double>{0, 15, 30}));

  const Series* msgs = rec.find(M::kMessages, {"free", "ok"});
  EXPECT_EQ(msgs->first_snapshot, 0u);
  EXPECT_EQ(msgs->values, (std::vector<double>{2, 6, 6}));
  const Series* streams = rec.find(M::kActiveStreams, {});
  EXPECT_EQ(streams->first_snapshot, 1u);
  EXPECT_EQ(streams->values, (std::vector<double>{7, 7}));
  const Series* batch = rec.find(M::kGpuBatchSize, {"c1"});
  ASSERT_EQ(batch->snapshot_count(), 2u);
  const double* cum = batch->cumulative_at(1);
  // bounds 1, 2, 4, ...: the observation 3 lands in le=4, so cumulative counts are 0, 0, 1, 1, ...
  EXPECT_EQ(cum[0], 0);
  EXPECT_EQ(cum[1], 0);
  EXPECT_EQ(cum[2], 1);
  EXPECT_EQ(cum[batch->buckets.size() - 1], 1);
  EXPECT_EQ(batch->sums, (std::vector<double>{3, 3}));
  EXPECT_EQ(batch->values, (std::vector<double>{1, 1}));
}

TEST(RecorderTest, SnapshotAtTheSameTimeReplacesTheLastOne) {
  Recorder rec;
  rec.full_scale().add(M::kMessagesLost, {}, 1);
  rec.snapshot(10);
  rec.full_scale().add(M::kMessagesLost, {}, 1);
  rec.full_scale().set(M::kActiveStreams, {}, 4);  // new since the snapshot being replaced
  rec.snapshot(10);
  rec.snapshot(5);  // earlier than the last: replaces it too, time stays 10
  EXPECT_EQ(rec.snapshot_times(), (std::vector<double>{10}));
  EXPECT_EQ(rec.find(M::kMessagesLost, {})->values, (std::vector<double>{2}));
  const Series* streams = rec.find(M::kActiveStreams, {});
  EXPECT_EQ(streams->first_snapshot, 0u);
  EXPECT_EQ(streams->values, (std::vector<double>{4}));
}

TEST(RecorderTest, SeriesAreListedInLabelOrder) {
  Recorder rec;
  rec.full_scale().add(M::kDbQueries, {"replica", "read"}, 1);
  rec.full_scale().add(M::kDbQueries, {"primary", "write"}, 1);
  rec.full_scale().add(M::kDbQueries, {"primary", "read"}, 1);
  rec.full_scale().add(M::kMessages, {"free", "ok"}, 1);
  auto list = rec.series(M::kDbQueries);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]->labels, (std::vector<std::string>{"primary", "read"}));
  EXPECT_EQ(list[1]->labels, (std::vector<std::string>{"primary", "write"}));
  EXPECT_EQ(list[2]->labels, (std::vector<std::string>{"replica", "read"}));
}

TEST(RecorderTest, LabelValuesThatConcatenateAlikeStayDistinct) {
  Recorder rec;
  rec.full_scale().add(M::kDbQueries, {"ab", "c"}, 1);
  rec.full_scale().add(M::kDbQueries, {"a", "bc"}, 2);
  EXPECT_DOUBLE_EQ(rec.value(M::kDbQueries, {"ab", "c"}), 1);
  EXPECT_DOUBLE_EQ(rec.value(M::kDbQueries, {"a", "bc"}), 2);
}

TEST(RecorderTest, BadCallsAreDroppedAndCounted) {
  Recorder rec;
  rec.full_scale().add(M::kMessages, {"free"}, 1);           // one label missing
  rec.full_scale().set(M::kMessages, {"free", "ok"}, 1);     // set on a counter
  rec.full_scale().observe(M::kActiveStreams, {}, 1);        // observe on a gauge
  rec.full_scale().add(M::kMessagesLost, {}, -1);            // counters only go up
  rec.full_scale().set(M::kActiveStreams, {}, std::nan(""));  // not finite
  rec.sample(SampleKind::kTimeToFirstToken, std::nan(""), 1);
  EXPECT_EQ(rec.rejected_calls(), 6u);
  EXPECT_NE(rec.first_rejection().find("chatscale_messages_total"), std::string::npos);
  EXPECT_TRUE(rec.series(M::kMessages).empty());
  EXPECT_TRUE(rec.series(M::kActiveStreams).empty());
  EXPECT_EQ(rec.sample_count(SampleKind::kTimeToFirstToken), 0u);
}

TEST(RecorderTest, InvalidFractionMeansNoScaling) {
  Recorder rec(0);
  EXPECT_DOUBLE_EQ(rec.sample_fraction(), 1);
  rec.sampled().add(M::kMessagesLost, {}, 2);
  EXPECT_DOUBLE_EQ(rec.value(M::kMessagesLost), 2);
}

TEST(RecorderTest, ExactSampleQuantiles) {
  Recorder rec;
  for (int i = 100; i >= 1; --i) rec.sample(SampleKind::kTimeToFirstToken, i, i);  // value i at time i
  EXPECT_EQ(rec.sample_count(SampleKind::kTimeToFirstToken), 100u);
  EXPECT_DOUBLE_EQ(rec.sample_quantile(SampleKind::kTimeToFirstToken, 0.5), 50.5);
  EXPECT_NEAR(rec.sample_quantile(SampleKind::kTimeToFirstToken, 0.99), 99.01, 1e-9);
  EXPECT_DOUBLE_EQ(rec.sample_quantile(SampleKind::kTimeToFirstToken, 0), 1);
  EXPECT_DOUBLE_EQ(rec.sample_quantile(SampleKind::kTimeToFirstToken, 1), 100);
  // Only samples with 51 <= t < 61: values 51 .. 60.
  EXPECT_DOUBLE_EQ(rec.sample_quantile(SampleKind::kTimeToFirstToken, 0.5, 51, 61), 55.5);
  EXPECT_DOUBLE_EQ(rec.sample_max(SampleKind::kTimeToFirstToken, 0, 50), 49);
  EXPECT_TRUE(std::isnan(rec.sample_quantile(SampleKind::kReplicaLag, 0.5)));
}

TEST(RecorderTest, QuantileInPlaceInterpolates) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile_in_place(v, 0.5), 2.5);
  std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(quantile_in_place(one, 0.99), 7);
  std::vector<double> none;
  EXPECT_TRUE(std::isnan(quantile_in_place(none, 0.5)));
}

}  // namespace
}  // namespace chatscale::sim
