#include "sim/db/database_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "testing/memory_metrics.h"
#include "tests/sim/db/db_test_util.h"

namespace chatscale::sim {
namespace {

using chatscale::testing::MemoryMetrics;
using testing_util::Driver;
using testing_util::lag_of;
using testing_util::make_model;
using testing_util::mean_latency;
using testing_util::two_regions;

constexpr int kEast = 0;
constexpr int kWest = 1;

DatabaseModelOptions fixed_service() {
  DatabaseModelOptions o;
  o.service_time_cv = 0;
  return o;
}

TEST(DatabaseModelTest, CreateRejectsBadSettings) {
  MemoryMetrics metrics;
  Scenario s = two_regions();
  EXPECT_EQ(DatabaseModel::create(s, 0, metrics).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DatabaseModel::create(s, 1.5, metrics).status().code(), StatusCode::kInvalidArgument);
  s.database.primary_region = "mars";
  EXPECT_EQ(DatabaseModel::create(s, 0.01, metrics).status().code(), StatusCode::kInvalidArgument);
  s = two_regions();
  s.database.commit_ms = 0;
  EXPECT_EQ(DatabaseModel::create(s, 0.01, metrics).status().code(), StatusCode::kInvalidArgument);
}

TEST(DatabaseModelTest, TopologyFollowsTheScenario) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics);
  EXPECT_EQ(m->primary_name(), "primary-east");
  std::vector<std::string> names;
  for (const ReplicaStatus& r : m->replicas()) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"replica-east-1", "replica-west-1", "replica-west-2"}));
  EXPECT_DOUBLE_EQ(m->round_trip_s(kEast, kWest), 0.080);
}

TEST(DatabaseModelTest, IdleWriteIsRoundTripPlusCommit) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics, fixed_service());
  auto w = m->write(kWest, 2, 0.0);
  ASSERT_TRUE(w.is_ok());
  EXPECT_NEAR(w->latency_s, 0.080 + 0.002, 1e-9);
  EXPECT_EQ(w->lsn, 200'000u);  // 2 rows / 0.01 x 1,000 WAL bytes
  auto local = m->write(kEast, 1, 10.0);
  ASSERT_TRUE(local.is_ok());
  EXPECT_NEAR(local->latency_s, 0.002 + 0.002, 1e-9);
  EXPECT_EQ(local->lsn, 300'000u);
  EXPECT_EQ(m->write(7, 1, 11.0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->write(kEast, -1, 11.0).status().code(), StatusCode::kInvalidArgument);
}

TEST(DatabaseModelTest, RandomServiceTimesAverageToTheSpec) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 1.0, metrics);  // exponential service
  double sum = 0, low = 1;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    auto w = m->write(kEast, 1, i * 1.0);  // one a second: idle
    ASSERT_TRUE(w.is_ok());
    sum += w->latency_s;
    low = std::min(low, w->latency_s);
  }
  EXPECT_NEAR(sum / n, 0.004, 0.0001);
  EXPECT_GE(low, 0.002);  // never below the round trip
}

TEST(DatabaseModelTest, SameSeedSameLatencies) {
  MemoryMetrics metrics;
  auto a = make_model(two_regions(), 0.01, metrics);
  auto b = make_model(two_regions(), 0.01, metrics);
  Scenario other = two_regions();
  other.simulation.seed = 43;
  auto c = make_model(other, 0.01, metrics);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    double la = a->write(kWest, 1, i)->latency_s;
    EXPECT_EQ(la, b->write(kWest, 1, i)->latency_s);
    differs = differs || la != c->write(kWest, 1, i)->latency_s;
  }
  EXPECT_TRUE(differs);
}

TEST(DatabaseModelTest, LagStaysNearLinkLatencyAtLightLoad) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics);
  Driver d(*m, 1);
  d.run(10'000, 2, 60.0);  // 20 MB/s of WAL against 200 MB/s of replay
  EXPECT_NEAR(lag_of(*m, "replica-west-1"), 0.040, 0.005);
  EXPECT_NEAR(lag_of(*m, "replica-west-2"), 0.040, 0.005);
  EXPECT_LT(lag_of(*m, "replica-east-1"), 0.005);
  EXPECT_LT(m->replica_lag_percentile(0.99, 5.0), 0.045);
  EXPECT_NEAR(metrics.value(MetricId::kDbReplicaLag, {"replica-west-1"}), lag_of(*m, "replica-west-1"), 1e-12);
  // The history is pruned as replicas replay.
  EXPECT_LT(m->wal_history_records(), 200u);
}

TEST(DatabaseModelTest, LagGrowsWhileWalOutpacesReplayThenRecovers) {
  MemoryMetrics metrics;
  Scenario s = two_regions();
  s.database.replica_apply_bytes_per_s = 50e6;
  auto m = make_model(s, 0.01, metrics);
  Driver d(*m, 2);
  d.run(20'000, 5, 30.0);  // 100 MB/s of WAL: lag grows ~0.5 s per second
  double lag30 = lag_of(*m, "replica-west-1");
  d.run(20'000, 5, 60.0);
  double lag60 = lag_of(*m, "replica-west-1");
  EXPECT_GT(lag30, 10.0);
  EXPECT_GT(lag60, lag30 + 10.0);
  EXPECT_NEAR(lag60, 30.0, 3.0);
  // Past max lag (2 s) every replica is out of rotation: reads go to the primary.
  auto r = m->read(kWest, ReadToken{}, 60.0);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->used_primary);
  EXPECT_EQ(r->reason, FallbackReason::kAllLagging);
  EXPECT_GT(metrics.value(MetricId::kDbPrimaryFallbacks, {"all_lagging"}), 0);

  d.run(2'000, 5, 200.0);  // 10 MB/s: the 3 GB backlog drains at 40 MB/s in ~75 s
  EXPECT_LT(lag_of(*m, "replica-west-1"), 0.1);
  auto back = m->read(kWest, ReadToken{}, 200.0);
  ASSERT_TRUE(back.is_ok());
  EXPECT_FALSE(back->used_primary);
  EXPECT_GT(m->replica_lag_percentile(0.99), 25.0);
}

TEST(DatabaseModelTest, ReadYourWritesGoesToThePrimaryUntilReplayed) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 1.0, metrics, fixed_service());
  m->tick(0.0);  // every replica reports: in rotation
  auto w = m->write(kWest, 1, 0.5);
  ASSERT_TRUE(w.is_ok());
  double committed = 0.5 + w->latency_s;
  ReadToken token{w->lsn, committed};

  auto early = m->read(kWest, token, committed + 0.01);
  ASSERT_TRUE(early.is_ok());
  EXPECT_TRUE(early->used_primary);
  EXPECT_EQ(early->target, "primary-east");
  EXPECT_EQ(early->reason, FallbackReason::kTokenNotReplayed);
  EXPECT_NEAR(early->latency_s, 0.080 + 0.001, 1e-9);
  // Without the token the same read may use a replica.
  auto any = m->read(kWest, ReadToken{}, committed + 0.01);
  ASSERT_TRUE(any.is_ok());
  EXPECT_FALSE(any->used_primary);

  m->tick(1.0);  // the west replicas have had 1.0 - 0.04 > commit time: replayed
  auto later = m->read(kWest, token, 1.1);
  ASSERT_TRUE(later.is_ok());
  EXPECT_FALSE(later->used_primary);
  EXPECT_EQ(later->target.rfind("replica-west-", 0), 0u) << later->target;  // the caller's region first
  EXPECT_NEAR(later->latency_s, 0.002 + 0.001, 1e-9);
  EXPECT_DOUBLE_EQ(metrics.value(MetricId::kDbPrimaryFallbacks, {"token_not_replayed"}), 1.0);
}

TEST(DatabaseModelTest, DownReplicasAndPrimary) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics);
  m->tick(0.0);
  EXPECT_EQ(m->set_replica_down("replica-nowhere-1", true, 0.0).code(), StatusCode::kNotFound);
  for (const char* name : {"replica-east-1", "replica-west-1", "replica-west-2"}) {
    ASSERT_TRUE(m->set_replica_down(name, true, 0.1).is_ok());
  }
  auto r = m->read(kWest, ReadToken{}, 0.2);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->reason, FallbackReason::kAllUnhealthy);

  m->set_primary_down(true);
  EXPECT_EQ(m->write(kEast, 1, 0.3).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(m->read(kEast, ReadToken{}, 0.3).status().code(), StatusCode::kUnavailable);
  EXPECT_DOUBLE_EQ(m->totals().failed_writes, 100.0);
  ASSERT_TRUE(m->set_replica_down("replica-west-2", false, 0.4).is_ok());
  auto served = m->read(kWest, ReadToken{}, 0.5);  // replicas keep serving (stale) reads in a failover
  ASSERT_TRUE(served.is_ok());
  EXPECT_EQ(served->target, "replica-west-2");
  m->set_primary_down(false);
  EXPECT_TRUE(m->write(kEast, 1, 0.6).is_ok());
}

TEST(DatabaseModelTest, CountersAreFullScale) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics);
  m->tick(0.0);
  ASSERT_TRUE(m->write(kEast, 3, 0.1).is_ok());
  ASSERT_TRUE(m->read(kWest, ReadToken{}, 0.2, 5).is_ok());
  ASSERT_TRUE(m->read(kWest, ReadToken{}, 0.3, 1, /*from_primary=*/true).is_ok());
  EXPECT_DOUBLE_EQ(metrics.value(MetricId::kDbQueries, {"primary", "write"}), 300.0);
  EXPECT_DOUBLE_EQ(metrics.value(MetricId::kDbQueries, {"replica", "read"}), 500.0);
  EXPECT_DOUBLE_EQ(metrics.value(MetricId::kDbQueries, {"primary", "read"}), 100.0);
  EXPECT_DOUBLE_EQ(metrics.histogram(MetricId::kDbQueryDuration, {"primary", "write"}).count, 1.0);
  EXPECT_DOUBLE_EQ(metrics.total(MetricId::kDbPrimaryFallbacks), 0.0);  // from_primary is no fallback
  EXPECT_DOUBLE_EQ(m->totals().transactions, 100.0);
  EXPECT_DOUBLE_EQ(m->totals().wal_bytes, 300'000.0);
  EXPECT_DOUBLE_EQ(m->read_fraction(), 600.0 / 900.0);
}

TEST(DatabaseModelTest, SaturatedPrimaryWaitKeepsGrowing) {
  MemoryMetrics metrics;
  auto m = make_model(two_regions(), 0.01, metrics);
  Driver d(*m, 3);
  auto writes = d.run(60'000, 0.1, 120.0);  // 1.2 x the 50,000 tx/s capacity
  double w1 = mean_latency(writes, 20, 40);
  double w2 = mean_latency(writes, 50, 70);
  double w3 = mean_latency(writes, 90, 110);
  EXPECT_GT(w2, w1 + 4.0);
  EXPECT_GT(w3, w2 + 6.0);
  EXPECT_NEAR(w3, 0.2 * 95, 3.0);  // the backlog grows at 10,000 tx/s, drained at 50,000/s
  EXPECT_GT(m->samples().back().primary_utilisation, 1.15);
  EXPECT_GT(m->samples().back().primary_wait_s, 20.0);
  EXPECT_NEAR(m->peak_primary_tps(30), 60'000, 3'000);
}

struct RunFigures {
  double peak_tps, transactions, lag, mean_write, read_fraction, replica_reads;
};

RunFigures run_at(double f) {
  MemoryMetrics metrics;
  Scenario s = two_regions();
  s.database.replica_apply_bytes_per_s = 100e6;
  auto m = make_model(s, f, metrics);
  Driver d(*m, 11);
  // 30,000 tx/s of 5 rows = 150 MB/s of WAL (lag grows ~1/3 s per s), 20,000 reads/s. The replicas
  // soon lag past 2 s, so the reads fall back to the primary: 30,000 x 2 ms + 20,000 x 1 ms = 80 of its
  // 100 workers busy.
  auto writes = d.run(30'000, 5, 300.0, 20'000);
  return {m->peak_primary_tps(100), m->totals().transactions, lag_of(*m, "replica-west-1"),
          mean_latency(writes, 0, 300), m->read_fraction(), m->totals().replica_reads + m->totals().primary_reads};
}

TEST(DatabaseModelTest, SamplingDoesNotChangeTheAnswer) {
  RunFigures a = run_at(0.01);
  RunFigures b = run_at(0.001);
  std::printf("f=0.01: peak %.0f tx/s, lag %.2f s, write %.5f s, reads %.4g; f=0.001: %.0f, %.2f, %.5f, %.4g\n",
              a.peak_tps, a.lag, a.mean_write, a.replica_reads, b.peak_tps, b.lag, b.mean_write, b.replica_reads);
  EXPECT_NEAR(a.peak_tps, 30'000, 30'000 * 0.03);
  EXPECT_NEAR(b.peak_tps / a.peak_tps, 1.0, 0.05);
  EXPECT_NEAR(b.transactions / a.transactions, 1.0, 0.05);
  EXPECT_NEAR(a.lag, 100.0, 5.0);
  EXPECT_NEAR(b.lag / a.lag, 1.0, 0.05);
  EXPECT_NEAR(b.mean_write / a.mean_write, 1.0, 0.03);
  EXPECT_NEAR(b.read_fraction / a.read_fraction, 1.0, 0.05);
  EXPECT_NEAR(b.replica_reads / a.replica_reads, 1.0, 0.05);
}

}  // namespace
}  // namespace chatscale::sim

namespace chatscale::sim {
namespace {

double near_saturation_wait(double f) {
  MemoryMetrics metrics;
  Scenario s = testing_util::two_regions();
  auto m = make_model(s, f, metrics);
  Driver d(*m, 5);
  d.run(48'500, 1, 600.0, 0, 0);  // 97% of the primary's 50,000 tx/s
  double sum = 0;
  int n = 0;
  for (const DbTickSample& x : m->samples()) {
    if (x.t >= 100) {
      sum += x.primary_wait_s;
      ++n;
    }
  }
  return sum / n;
}

TEST(DatabaseModelTest, NearSaturationWaitDoesNotDependOnSampling) {
  double a = near_saturation_wait(0.01);
  double b = near_saturation_wait(0.001);
  std::printf("rho 0.97: mean commit wait %.6f s at f=0.01, %.6f s at f=0.001\n", a, b);
  // M/M/100 at rho = 0.97: Erlang C ~0.75, wait ~0.75 x 2 ms / 3 = 0.5 ms. Without the noise gate and
  // the adaptive window the sampling noise alone built a backlog of ~0.1 s at f = 0.001.
  EXPECT_NEAR(a, 0.0005, 0.0002);
  EXPECT_NEAR(b, 0.0005, 0.0005);
}

}  // namespace
}  // namespace chatscale::sim

namespace chatscale::sim {
namespace {

TEST(DatabaseModelTest, ReadsSpreadEvenlyOverARegionsReplicas) {
  MemoryMetrics metrics;
  Scenario s = testing_util::two_regions();
  s.regions[0].read_replicas = 3;  // east: 3, west: 2, registered interleaved
  auto m = make_model(s, 0.01, metrics);
  std::mt19937_64 rng(9);
  std::bernoulli_distribution from_west(0.3);
  double next_tick = 0;
  for (int i = 0; i < 60'000; ++i) {  // 1,000 sampled reads/s for 60 s from both regions, mixed
    double t = i * 0.001;
    for (; next_tick <= t; next_tick += 1) m->tick(next_tick);
    ASSERT_TRUE(m->read(from_west(rng) ? 1 : 0, ReadToken{}, t).is_ok());
  }
  double low[2] = {1e9, 1e9}, high[2] = {0, 0};
  for (const ReplicaStatus& r : m->replicas()) {
    low[r.region] = std::min(low[r.region], r.utilisation);
    high[r.region] = std::max(high[r.region], r.utilisation);
  }
  // East: 70,000 statements/s over 3 x 50 workers; west: 30,000 over 2 x 50.
  EXPECT_NEAR(low[0], 70'000.0 * 0.001 / 150, 0.03);
  EXPECT_NEAR(high[0], low[0], 0.03);
  EXPECT_NEAR(low[1], 30'000.0 * 0.001 / 100, 0.03);
  EXPECT_NEAR(high[1], low[1], 0.03);
}

}  // namespace
}  // namespace chatscale::sim
