#include "replica/replica_router.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "testing/manual_clock.h"

namespace chatscale {
namespace {

constexpr Lsn kNoToken = 0;

class ReplicaRouterTest : public ::testing::Test {
 protected:
  explicit ReplicaRouterTest(ReplicaRouterOptions options = {5.0, std::nullopt, 30.0, 10.0})
      : router_(options) {
    EXPECT_TRUE(router_.set_primary("pg-primary", "us-east").is_ok());
  }

  double now() const { return clock_.now(); }
  void add(const std::string& name, const std::string& region) {
    ASSERT_TRUE(router_.add_replica(name, region).is_ok());
  }
  void report(const std::string& name, Lsn lsn, double lag = 0.5, bool healthy = true) {
    ASSERT_TRUE(router_.report_replica(name, lsn, lag, healthy, now()).is_ok());
  }
  ReadToken token(Lsn lsn) const { return ReadToken{lsn, now()}; }
  // Picks and ends the read at once, so load does not steer later picks.
  RouteDecision pick(ReadToken t = {}, std::string_view region = "us-east") {
    RouteDecision d = router_.pick_replica(t, region, now());
    EXPECT_TRUE(router_.end_read(d.target).is_ok()) << d.target;
    return d;
  }
  ReplicaState state(const std::string& name) const {
    for (const ReplicaView& v : router_.replicas(now())) {
      if (v.name == name) return v.state;
    }
    ADD_FAILURE() << "no replica " << name;
    return ReplicaState::kUnreported;
  }

  testing::ManualClock clock_{1000.0};
  ReplicaRouter router_;
};

void expect_primary(const RouteDecision& d, FallbackReason reason) {
  EXPECT_TRUE(d.use_primary);
  EXPECT_EQ(d.target, "pg-primary");
  EXPECT_EQ(fallback_reason_name(d.reason), fallback_reason_name(reason));
}

void expect_replica(const RouteDecision& d, const std::string& name) {
  EXPECT_FALSE(d.use_primary);
  EXPECT_EQ(d.target, name);
  EXPECT_EQ(d.reason, FallbackReason::kNone);
}

TEST_F(ReplicaRouterTest, NoReplicasFallsBackToThePrimary) {
  RouteDecision d = router_.pick_replica({}, "us-east", now());
  expect_primary(d, FallbackReason::kNoReplicas);
  EXPECT_EQ(router_.primary_outstanding_reads(), 1);
  EXPECT_TRUE(router_.end_read("pg-primary").is_ok());
  EXPECT_EQ(router_.primary_outstanding_reads(), 0);
}

TEST_F(ReplicaRouterTest, ReplicaThatNeverReportedIsNotUsed) {
  add("r1", "us-east");
  EXPECT_EQ(state("r1"), ReplicaState::kUnreported);
  expect_primary(pick(), FallbackReason::kAllUnhealthy);
  report("r1", 10);
  expect_replica(pick(), "r1");
}

TEST_F(ReplicaRouterTest, TokenRequiresReplayedLsn) {
  add("r1", "us-east");
  add("r2", "us-east");
  report("r1", 100);
  report("r2", 200);
  for (int i = 0; i < 4; ++i) expect_replica(pick(token(150)), "r2");
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) ++seen[pick(token(100)).target];  // equal LSN qualifies
  EXPECT_EQ(seen["r1"], 2);
  EXPECT_EQ(seen["r2"], 2);
  RouteDecision d = pick(token(201));
  expect_primary(d, FallbackReason::kTokenNotReplayed);
  EXPECT_TRUE(d.token_live);
  report("r1", 201);
  expect_replica(pick(token(201)), "r1");
}

TEST_F(ReplicaRouterTest, TokenExpiresAfterTtl) {
  add("r1", "us-east");
  report("r1", 100);
  ReadToken t = token(500);
  clock_.advance(30.0);  // exactly the TTL: still honoured
  report("r1", 100);
  RouteDecision live = pick(t);
  expect_primary(live, FallbackReason::kTokenNotReplayed);
  EXPECT_TRUE(live.token_live);
  clock_.advance(0.001);
  RouteDecision expired = pick(t);
  expect_replica(expired, "r1");
  EXPECT_FALSE(expired.token_live);
}

TEST_F(ReplicaRouterTest, TokenFromTheFutureIsBounded) {
  add("r1", "us-east");
  report("r1", 100);
  expect_primary(pick(ReadToken{500, now() + 30.0}), FallbackReason::kTokenNotReplayed);
  expect_replica(pick(ReadToken{500, now() + 30.001}), "r1");
  expect_replica(pick(ReadToken{500, std::nan("")}), "r1");
}

TEST_F(ReplicaRouterTest, NoTokenAcceptsAnyReplicaInRotation) {
  add("r1", "us-east");
  report("r1", 0);
  RouteDecision d = pick(ReadToken{kNoToken, now()});
  expect_replica(d, "r1");
  EXPECT_FALSE(d.token_live);
}

TEST_F(ReplicaRouterTest, LagBoundTakesOutAndBringsBack) {
  add("r1", "us-east");
  report("r1", 10, 5.0);  // at the bound: in
  expect_replica(pick(), "r1");
  report("r1", 10, 5.01);
  EXPECT_EQ(state("r1"), ReplicaState::kLagging);
  expect_primary(pick(), FallbackReason::kAllLagging);
  report("r1", 20, 4.9);  // no hysteresis by default
  EXPECT_EQ(state("r1"), ReplicaState::kInRotation);
  expect_replica(pick(), "r1");
}

class ReplicaRouterHysteresisTest : public ReplicaRouterTest {
 protected:
  ReplicaRouterHysteresisTest() : ReplicaRouterTest({5.0, 2.0, 30.0, 10.0}) {}
};

TEST_F(ReplicaRouterHysteresisTest, RejoinsOnlyBelowTheLowerBound) {
  add("r1", "us-east");
  report("r1", 10, 4.0);
  EXPECT_EQ(state("r1"), ReplicaState::kInRotation);
  report("r1", 10, 6.0);
  EXPECT_EQ(state("r1"), ReplicaState::kLagging);
  report("r1", 10, 4.0);  // under max but above rejoin: stays out
  EXPECT_EQ(state("r1"), ReplicaState::kLagging);
  expect_primary(pick(), FallbackReason::kAllLagging);
  report("r1", 10, 2.0);
  EXPECT_EQ(state("r1"), ReplicaState::kInRotation);
  report("r1", 10, 4.5);  // between the bounds: stays in
  EXPECT_EQ(state("r1"), ReplicaState::kInRotation);
  expect_replica(pick(), "r1");
}

TEST_F(ReplicaRouterTest, UnhealthyLeavesAndHealthyReturns) {
  add("r1", "us-east");
  report("r1", 10, 0.1, false);
  EXPECT_EQ(state("r1"), ReplicaState::kUnhealthy);
  expect_primary(pick(), FallbackReason::kAllUnhealthy);
  report("r1", 10, 0.1, true);
  expect_replica(pick(), "r1");
}

TEST_F(ReplicaRouterTest, StaleReportLeavesRotation) {
  add("r1", "us-east");
  report("r1", 10);
  clock_.advance(10.0);
  expect_replica(pick(), "r1");
  clock_.advance(0.001);
  EXPECT_EQ(state("r1"), ReplicaState::kStale);
  expect_primary(pick(), FallbackReason::kAllUnhealthy);
  report("r1", 10);
  expect_replica(pick(), "r1");
}

TEST_F(ReplicaRouterTest, LateOlderReportIsIgnored) {
  add("r1", "us-east");
  report("r1", 10);
  ASSERT_TRUE(router_.report_replica("r1", 5, 60.0, false, now() - 1.0).is_ok());
  EXPECT_EQ(state("r1"), ReplicaState::kInRotation);
  EXPECT_EQ(router_.replicas(now())[0].replayed_lsn, 10u);
}

TEST_F(ReplicaRouterTest, FallbackReasonPrefersTheMostSpecific) {
  add("r1", "us-east");
  add("r2", "us-east");
  add("r3", "us-east");
  report("r1", 100);             // in rotation, behind the token
  report("r2", 900, 60.0);       // lagging
  report("r3", 900, 0.1, false);  // unhealthy
  expect_primary(pick(token(500)), FallbackReason::kTokenNotReplayed);
  report("r1", 100, 0.1, false);
  expect_primary(pick(token(500)), FallbackReason::kAllLagging);
  expect_primary(pick(), FallbackReason::kAllLagging);
  report("r2", 900, 60.0, false);
  expect_primary(pick(), FallbackReason::kAllUnhealthy);
}

TEST_F(ReplicaRouterTest, PrimaryLsnProvesIdleReplicasCaughtUp) {
  add("r1", "us-east");
  add("r2", "us-east");
  ASSERT_TRUE(router_.report_primary_lsn(500, now()).is_ok());
  clock_.advance(1.0);
  report("r1", 500, 30.0);  // replay timestamp is old because the primary is idle
  report("r2", 499, 30.0);  // really behind
  auto views = router_.replicas(now());
  EXPECT_DOUBLE_EQ(views[0].lag_seconds, 1.0);
  EXPECT_EQ(views[0].state, ReplicaState::kInRotation);
  EXPECT_DOUBLE_EQ(views[1].lag_seconds, 30.0);
  EXPECT_EQ(views[1].state, ReplicaState::kLagging);
  EXPECT_EQ(router_.primary_lsn(), 500u);
}

TEST_F(ReplicaRouterTest, PrefersTheCallersRegion) {
  add("us1", "us-east");
  add("eu1", "eu-west");
  report("us1", 10);
  report("eu1", 10);
  // Even with more outstanding reads, the local replica wins.
  for (int i = 0; i < 5; ++i) expect_replica(router_.pick_replica({}, "eu-west", now()), "eu1");
  for (int i = 0; i < 3; ++i) expect_replica(pick({}, "us-east"), "us1");
  report("eu1", 10, 60.0);
  expect_replica(pick({}, "eu-west"), "us1");  // a remote replica beats the primary
  expect_replica(pick({}, "ap-south"), "us1");
}

TEST_F(ReplicaRouterTest, SpreadsLoadToTheLeastLoaded) {
  add("r1", "us-east");
  add("r2", "us-east");
  add("r3", "us-east");
  for (const char* r : {"r1", "r2", "r3"}) report(r, 10);
  std::map<std::string, int> held;
  for (int i = 0; i < 300; ++i) ++held[router_.pick_replica({}, "us-east", now()).target];
  EXPECT_EQ(held["r1"], 100);
  EXPECT_EQ(held["r2"], 100);
  EXPECT_EQ(held["r3"], 100);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(router_.end_read("r2").is_ok());
  for (int i = 0; i < 50; ++i) expect_replica(router_.pick_replica({}, "us-east", now()), "r2");
  for (const ReplicaView& v : router_.replicas(now())) EXPECT_EQ(v.outstanding_reads, 100) << v.name;
}

TEST_F(ReplicaRouterTest, RoundRobinBreaksTies) {
  add("r1", "us-east");
  add("r2", "us-east");
  add("r3", "us-east");
  for (const char* r : {"r1", "r2", "r3"}) report(r, 10);
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) order.push_back(pick().target);
  EXPECT_EQ(order, (std::vector<std::string>{"r1", "r2", "r3", "r1", "r2", "r3"}));
}

TEST_F(ReplicaRouterTest, RegistrationAndReportErrors) {
  EXPECT_EQ(router_.add_replica("", "us-east").code(), StatusCode::kInvalidArgument);
  add("r1", "us-east");
  EXPECT_EQ(router_.add_replica("r1", "eu-west").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(router_.add_replica("pg-primary", "eu-west").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(router_.set_primary("r1", "us-east").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(router_.report_replica("nope", 1, 0, true, now()).code(), StatusCode::kNotFound);
  EXPECT_EQ(router_.report_replica("r1", 1, std::nan(""), true, now()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.report_replica("r1", 1, 0, true, INFINITY).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.end_read("r1").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(router_.end_read("nope").code(), StatusCode::kNotFound);
  report("r1", 1, -0.2);  // replica clock ahead of the primary's: counts as no lag
  EXPECT_EQ(router_.replicas(now())[0].lag_seconds, 0.0);
  EXPECT_TRUE(router_.remove_replica("r1").is_ok());
  EXPECT_EQ(router_.remove_replica("r1").code(), StatusCode::kNotFound);
  expect_primary(pick(), FallbackReason::kNoReplicas);
}

TEST_F(ReplicaRouterTest, RoundRobinIsPerCallerRegion) {
  // Interleaved picks from two regions must still spread each region's reads over its replicas.
  add("east-a", "us-east");
  add("west-a", "us-west");
  add("east-b", "us-east");
  add("west-b", "us-west");
  for (const char* r : {"east-a", "east-b", "west-a", "west-b"}) report(r, 10);
  std::map<std::string, int> count;
  for (int i = 0; i < 40; ++i) {
    ++count[pick({}, "us-east").target];
    ++count[pick({}, "us-west").target];
  }
  EXPECT_EQ(count["east-a"], 20);
  EXPECT_EQ(count["east-b"], 20);
  EXPECT_EQ(count["west-a"], 20);
  EXPECT_EQ(count["west-b"], 20);
}

TEST(ReplicaRouterOptions, Validation) {
  EXPECT_TRUE(validate({}).is_ok());
  EXPECT_TRUE(validate({5.0, 2.0, 30.0, 10.0}).is_ok());
  EXPECT_FALSE(validate({5.0, 6.0, 30.0, 10.0}).is_ok());
  EXPECT_FALSE(validate({-1.0, std::nullopt, 30.0, 10.0}).is_ok());
  EXPECT_FALSE(validate({5.0, std::nullopt, NAN, 10.0}).is_ok());
  EXPECT_FALSE(validate({5.0, std::nullopt, 30.0, -1.0}).is_ok());
  ReplicaRouter clamped({5.0, 6.0, 30.0, 10.0});
  EXPECT_EQ(clamped.options().rejoin_lag_seconds, 5.0);
}

TEST(ReplicaRouterNames, ReasonAndStateNames) {
  EXPECT_EQ(fallback_reason_name(FallbackReason::kNoReplicas), "no_replicas");
  EXPECT_EQ(fallback_reason_name(FallbackReason::kTokenNotReplayed), "token_not_replayed");
  EXPECT_EQ(fallback_reason_name(FallbackReason::kAllLagging), "all_lagging");
  EXPECT_EQ(fallback_reason_name(FallbackReason::kAllUnhealthy), "all_unhealthy");
  EXPECT_EQ(replica_state_name(ReplicaState::kStale), "stale");
}

// Many threads picking and ending reads leave every count at zero (run under TSan to check races).
TEST_F(ReplicaRouterTest, ConcurrentPicksBalance) {
  add("r1", "us-east");
  add("r2", "eu-west");
  report("r1", 10);
  report("r2", 10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 2000; ++i) {
        RouteDecision d = router_.pick_replica(ReadToken{i % 3 == 0 ? Lsn{20} : kNoToken, now()},
                                               t % 2 ? "eu-west" : "us-east", now());
        EXPECT_TRUE(router_.end_read(d.target).is_ok());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const ReplicaView& v : router_.replicas(now())) EXPECT_EQ(v.outstanding_reads, 0);
  EXPECT_EQ(router_.primary_outstanding_reads(), 0);
}

}  // namespace
}  // namespace chatscale
