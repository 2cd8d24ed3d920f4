#include "sim/db/queueing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace chatscale::sim {
namespace {

TEST(ErlangCTest, MatchesClosedForms) {
  EXPECT_NEAR(erlang_c(1, 0.5), 0.5, 1e-12);       // M/M/1: P(wait) = rho
  EXPECT_NEAR(erlang_c(2, 1.0), 1.0 / 3.0, 1e-12);  // textbook value
  EXPECT_DOUBLE_EQ(erlang_c(4, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(erlang_c(4, 4.0), 1.0);           // saturated: everyone waits
  // More servers at the same utilisation wait less often.
  EXPECT_LT(erlang_c(100, 80), erlang_c(10, 8));
}

TEST(RateEstimatorTest, TracksASteadyRateAndConservesMass) {
  RateEstimator r(5.0);
  double delivered = 0;
  for (int i = 1; i <= 6000; ++i) {  // 100 per second for 60 s
    double t = i * 0.01;
    delivered += r.advance(t);
    r.add(1.0, t);
  }
  EXPECT_NEAR(r.rate(60.0), 100.0, 1.0);
  // Long after the arrivals stop, the smoothed stream has delivered exactly what came in.
  delivered += r.advance(1000.0);
  EXPECT_NEAR(delivered, 6000.0, 1e-6);
  EXPECT_NEAR(r.rate(1000.0), 0.0, 1e-9);
}

TEST(FluidQueueTest, BacklogGrowsAtTheExcessAndDrains) {
  FluidQueue q(100.0, 1.0);
  // 120 units/s against a capacity of 100 for 100 s.
  for (int i = 1; i <= 12000; ++i) q.offer(1.0, i / 120.0);
  double after_overload = q.backlog();
  EXPECT_NEAR(after_overload, 20.0 * 100 - 120 * 1.0, 150.0);  // ~(120 - 100) x 100 s, less the window
  EXPECT_NEAR(q.drain_s(), after_overload / 100.0, 1e-12);
  // 50 units/s for 100 s: drains at 50/s, so ~1,900 units take ~38 s.
  for (int i = 1; i <= 5000; ++i) q.offer(1.0, 100.0 + i / 50.0);
  EXPECT_DOUBLE_EQ(q.backlog(), 0.0);
}

TEST(FluidQueueTest, PatienceBoundsTheWaitAndTheExcessAbandons) {
  FluidQueue q(100.0, 1.0);
  q.set_patience(10.0);
  // 200 units/s against a capacity of 100 for 100 s: the backlog stops at 90% of 10 s of work and
  // half of the inflow times out.
  for (int i = 1; i <= 20000; ++i) q.offer(1.0, i / 200.0);
  EXPECT_NEAR(q.backlog(), 100.0 * 10.0 * FluidQueue::kServedShare, 1e-9);
  EXPECT_LT(q.drain_s(), 10.0);
  EXPECT_NEAR(q.abandon_probability(), 0.5, 0.05);
  // Below capacity nothing abandons.
  for (int i = 1; i <= 5000; ++i) q.offer(1.0, 100.0 + i / 50.0);
  EXPECT_EQ(q.abandon_probability(), 0.0);
}

TEST(MultiServerQueueTest, MeanWaitIsMM1AtOneWorker) {
  // One worker, 1 ms statements, 500 statements/s: rho = 0.5, M/M/1 wait = rho x s / (1 - rho) = 1 ms.
  MultiServerQueue q(1.0, 5.0);
  std::mt19937_64 rng(7);
  double t = 0;
  for (int i = 0; i < 20000; ++i) {
    t += 0.002;
    q.offer(0.001, 1, t);
  }
  EXPECT_NEAR(q.utilisation(t), 0.5, 0.01);
  EXPECT_NEAR(q.mean_wait(t, 0.001), 0.001, 0.00005);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) sum += q.draw_wait(t, 0.001, rng);
  EXPECT_NEAR(sum / n, 0.001, 0.00003);
}

TEST(MultiServerQueueTest, ManyWorkersBarelyQueueBelowCapacity) {
  MultiServerQueue q(100.0, 5.0);  // e.g. 50,000 commits/s x 2 ms
  double t = 0;
  for (int i = 0; i < 60000; ++i) {
    t += 1.0 / 2000;  // 2,000 sampled arrivals/s of 20 full-scale 2 ms statements: 80 busy-s/s = 0.8 x 100
    q.offer(20 * 0.002, 20, t);
  }
  EXPECT_NEAR(q.utilisation(t), 0.8, 0.01);
  EXPECT_EQ(q.servers(), 100);
  EXPECT_LT(q.mean_wait(t, 0.002), 0.0001);  // Erlang C with c = 100 at rho = 0.8: a few microseconds
  EXPECT_DOUBLE_EQ(q.backlog_drain_s(), 0.0);
}

}  // namespace
}  // namespace chatscale::sim
