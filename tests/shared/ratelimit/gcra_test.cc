#include "ratelimit/gcra.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace chatscale {
namespace {

constexpr double kT0 = 1'700'000'000.0;

Tier make_tier(std::string name, double rpm, double tpm, std::int64_t max_concurrent = 0) {
  Tier tier;
  tier.name = std::move(name);
  tier.requests_per_minute = rpm;
  tier.tokens_per_minute = tpm;
  tier.max_concurrent = max_concurrent;
  return tier;
}

// Applies an acquire to `state` and returns the decision, failing the test on an error.
RateDecision acquire(RateState& state, const Tier& tier, std::int64_t tokens, double now) {
  Result<AcquireOutcome> outcome = decide_acquire(state, tier, tokens, now);
  EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  if (!outcome.is_ok()) return {};
  state = outcome->state;
  return outcome->decision;
}

TEST(Gcra, SteadyRateIsAlwaysAllowed) {
  Tier tier = make_tier("t", 60, 0);
  RateState state;
  for (int i = 0; i < 600; ++i) {
    RateDecision d = acquire(state, tier, 0, kT0 + i);
    ASSERT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.requests.remaining, 59);
    EXPECT_DOUBLE_EQ(d.requests.reset_seconds, 1.0);
  }
}

TEST(Gcra, BurstThenRefusalWithExactRetryAfter) {
  Tier tier = make_tier("free", 3, 0);
  RateState state;
  for (int i = 0; i < 3; ++i) {
    RateDecision d = acquire(state, tier, 0, kT0);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.requests.remaining, 2 - i);
  }
  RateState before = state;
  RateDecision refused = acquire(state, tier, 0, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limited_by, RateLimitKind::kRequests);
  EXPECT_EQ(refused.retry_after_seconds, 20.0);  // one 20 s interval, exactly
  EXPECT_EQ(refused.requests.retry_after_seconds, 20.0);
  EXPECT_EQ(refused.requests.remaining, 0);
  EXPECT_EQ(refused.requests.reset_seconds, 60.0);
  EXPECT_EQ(refused.requests.limit, 3);
  EXPECT_EQ(state, before) << "a refused request consumes nothing";

  RateDecision almost = acquire(state, tier, 0, kT0 + 19.5);
  EXPECT_FALSE(almost.allowed);
  EXPECT_NEAR(almost.retry_after_seconds, 0.5, 1e-6);
  EXPECT_TRUE(acquire(state, tier, 0, kT0 + 20).allowed);
  EXPECT_FALSE(acquire(state, tier, 0, kT0 + 20).allowed);
}

TEST(Gcra, RefillsOverTime) {
  Tier tier = make_tier("t", 6, 0);
  RateState state;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(acquire(state, tier, 0, kT0).allowed);
  ASSERT_FALSE(acquire(state, tier, 0, kT0).allowed);
  Result<RateDecision> half = inspect(state, tier, kT0 + 30);
  ASSERT_TRUE(half.is_ok());
  EXPECT_EQ(half->requests.remaining, 3);
  EXPECT_EQ(half->requests.reset_seconds, 30.0);
  Result<RateDecision> full = inspect(state, tier, kT0 + 60);
  EXPECT_EQ(full->requests.remaining, 6);
  EXPECT_EQ(full->requests.reset_seconds, 0.0);
  // Long idle does not bank more than one burst.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(acquire(state, tier, 0, kT0 + 600).allowed);
  EXPECT_FALSE(acquire(state, tier, 0, kT0 + 600).allowed);
}

TEST(Gcra, FractionalRatesAdmitTheirWholeBurst) {
  Tier seven = make_tier("t", 7, 0);
  RateState state;
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(acquire(state, seven, 0, kT0 + 0.25).allowed) << i;
  EXPECT_FALSE(acquire(state, seven, 0, kT0 + 0.25).allowed);

  Tier slow = make_tier("t", 0.5, 0);  // one request every two minutes
  RateState s2;
  EXPECT_TRUE(acquire(s2, slow, 0, kT0).allowed);
  RateDecision refused = acquire(s2, slow, 0, kT0 + 1);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 119.0);
  EXPECT_TRUE(acquire(s2, slow, 0, kT0 + 120).allowed);
}

TEST(Gcra, TokensAreReservedUpFront) {
  Tier tier = make_tier("t", 0, 1000);
  RateState state;
  RateDecision first = acquire(state, tier, 600, kT0);
  ASSERT_TRUE(first.allowed);
  EXPECT_EQ(first.tokens.remaining, 400);
  EXPECT_EQ(first.tokens.reset_seconds, 36.0);  // 600 tokens at 60 ms each
  RateState before = state;
  RateDecision refused = acquire(state, tier, 500, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limited_by, RateLimitKind::kTokens);
  EXPECT_EQ(refused.tokens.remaining, 400);
  EXPECT_NEAR(refused.retry_after_seconds, 6.0, 1e-9);  // 100 tokens short at 60 ms each
  EXPECT_EQ(state, before);
  EXPECT_TRUE(acquire(state, tier, 500, kT0 + 6).allowed);
}

TEST(Gcra, ReconcileRefundsTheUnusedPartAndChargesOverruns) {
  Tier tier = make_tier("t", 0, 1000);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 600, kT0).allowed);
  Result<RateState> refunded = apply_reconcile(state, tier, 600, 200, kT0 + 1);
  ASSERT_TRUE(refunded.is_ok());
  Result<RateDecision> after_refund = inspect(*refunded, tier, kT0 + 1);
  // 600 reserved, 200 used: 200 held, less the 1 s (16 tokens) that refilled since.
  EXPECT_EQ(after_refund->tokens.remaining, 816);

  RateState s2;
  ASSERT_TRUE(acquire(s2, tier, 100, kT0).allowed);
  Result<RateState> charged = apply_reconcile(s2, tier, 100, 400, kT0);
  ASSERT_TRUE(charged.is_ok());
  EXPECT_EQ(inspect(*charged, tier, kT0)->tokens.remaining, 600);
}

TEST(Gcra, RefundNeverMakesTheBucketFullerThanFull) {
  Tier tier = make_tier("t", 0, 1000);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 900, kT0).allowed);
  // Half refilled by now (500 tokens); refunding all 900 would overfill, so it stops at full.
  Result<RateState> refunded = apply_reconcile(state, tier, 900, 0, kT0 + 30);
  ASSERT_TRUE(refunded.is_ok());
  EXPECT_EQ(inspect(*refunded, tier, kT0 + 30)->tokens.remaining, 1000);
  RateState s = *refunded;
  ASSERT_TRUE(acquire(s, tier, 1000, kT0 + 30).allowed);
  EXPECT_FALSE(acquire(s, tier, 1, kT0 + 30).allowed);
  // Already full: a refund changes nothing.
  RateState fresh;
  EXPECT_EQ(apply_reconcile(fresh, tier, 500, 0, kT0)->token_tat_ns, 0);
}

TEST(Gcra, OverrunDebtIsCapped) {
  Tier tier = make_tier("t", 0, 1000);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 10, kT0).allowed);
  Result<RateState> charged = apply_reconcile(state, tier, 10, 1'000'000'000'000, kT0);
  ASSERT_TRUE(charged.is_ok());
  RateState s = *charged;
  RateDecision refused = acquire(s, tier, 0, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 60.0);  // two windows of debt, one of tolerance
}

TEST(Gcra, ReservationBeyondTheLimitIsInvalidNotWaiting) {
  Tier tier = make_tier("free", 3, 1000);
  RateState state;
  Result<AcquireOutcome> too_big = decide_acquire(state, tier, 1001, kT0);
  ASSERT_FALSE(too_big.is_ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("1000 tokens per minute"), std::string::npos);
  EXPECT_TRUE(decide_acquire(state, tier, 1000, kT0).is_ok());
  EXPECT_EQ(decide_acquire(state, tier, -1, kT0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decide_acquire(state, tier, 1, NAN).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decide_acquire(state, tier, 1, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(apply_reconcile(state, tier, -1, 0, kT0).status().code(), StatusCode::kInvalidArgument);
}

TEST(Gcra, LargeTokenLimitsAreExact) {
  Tier tier = make_tier("t", 0, 1'000'000);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 1'000'000, kT0).allowed);
  RateDecision refused = acquire(state, tier, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_NEAR(refused.retry_after_seconds, 60e-6, 1e-12);
}

TEST(Gcra, LongestWaitNamesTheRefusal) {
  Tier tier = make_tier("t", 60, 600, 1);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 600, kT0).allowed);
  RateDecision d = acquire(state, tier, 100, kT0);
  EXPECT_FALSE(d.allowed);
  // Concurrency would wait 1 s, requests 0 s, tokens 10 s.
  EXPECT_EQ(d.limited_by, RateLimitKind::kTokens);
  EXPECT_DOUBLE_EQ(d.retry_after_seconds, 10.0);
  EXPECT_EQ(d.requests.retry_after_seconds, 0.0);
}

TEST(Gcra, ConcurrencyCapAndRelease) {
  Tier tier = make_tier("t", 0, 0, 2);
  RateState state;
  EXPECT_EQ(acquire(state, tier, 0, kT0).in_flight, 1);
  EXPECT_EQ(acquire(state, tier, 0, kT0).in_flight, 2);
  RateDecision capped = acquire(state, tier, 0, kT0);
  EXPECT_FALSE(capped.allowed);
  EXPECT_EQ(capped.limited_by, RateLimitKind::kConcurrency);
  EXPECT_EQ(capped.retry_after_seconds, kConcurrencyRetryAfterSeconds);
  EXPECT_EQ(capped.in_flight, 2);
  state = *apply_release(state, kT0 + 5);
  EXPECT_EQ(state.slots_ns.size(), 1u);
  EXPECT_TRUE(acquire(state, tier, 0, kT0 + 5).allowed);
  state = *apply_release(state, kT0 + 6);
  state = *apply_release(state, kT0 + 6);
  EXPECT_TRUE(state.slots_ns.empty());
  EXPECT_EQ(*apply_release(state, kT0 + 7), state) << "releasing nothing is a no-op";
}

TEST(Gcra, LeakedSlotsExpireAfterTheLease) {
  Tier tier = make_tier("t", 0, 0, 1);
  RateState state;
  ASSERT_TRUE(acquire(state, tier, 0, kT0).allowed);
  EXPECT_FALSE(acquire(state, tier, 0, kT0 + kSlotLeaseSeconds - 1).allowed);
  EXPECT_TRUE(acquire(state, tier, 0, kT0 + kSlotLeaseSeconds).allowed);
}

TEST(Gcra, UnlimitedDimensions) {
  Tier tier = make_tier("unlimited", 0, 0);
  RateState state;
  for (int i = 0; i < 1000; ++i) {
    RateDecision d = acquire(state, tier, 1'000'000, kT0);
    ASSERT_TRUE(d.allowed);
    EXPECT_TRUE(d.requests.unlimited);
    EXPECT_TRUE(d.tokens.unlimited);
  }
  EXPECT_TRUE(rate_state_is_idle(state, kT0));
}

TEST(Gcra, StateRoundTrips) {
  RateState state;
  state.request_tat_ns = 1'700'000'001'000'000'000;
  state.token_tat_ns = 1'700'000'000'500'000'000;
  state.slots_ns = {1'700'000'000'000'000'000, 1'700'000'000'250'000'000};
  std::string blob = serialize_rate_state(state);
  EXPECT_EQ(blob, "1:1700000001000000000:1700000000500000000:1700000000000000000,1700000000250000000");
  Result<RateState> parsed = parse_rate_state(blob);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(*parsed, state);
  EXPECT_EQ(*parse_rate_state(serialize_rate_state(RateState{})), RateState{});
  EXPECT_EQ(*parse_rate_state(""), RateState{});
}

TEST(Gcra, GarbageBlobsAreRejected) {
  std::string too_many_slots = "1:0:0:1";
  for (std::size_t i = 0; i < kMaxTrackedSlots; ++i) too_many_slots += ",1";
  const std::string garbage[] = {
      "x", "1", "1:", "1:0:0", "2:0:0:", "1:a:0:", "1:0:0:x", "1:-5:0:", "1:0:-5:", "1:0:0:-1",
      "1:0:0:1,,2", "1:0:0:1,", "1:0:0:,1", "1:0:0:0:", "1:99999999999999999999999:0:", " 1:0:0:",
      "1:0:0: 5", "1:+5:0:", "1:0x10:0:", "1:1.5:0:", std::string("1:0\0:0:", 7), "\xff\xfe\x00\x01",
      too_many_slots};
  for (const std::string& blob : garbage) {
    Result<RateState> parsed = parse_rate_state(blob);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << "accepted: " << blob;
  }
}

TEST(Gcra, CorruptFarFutureTimesAreClampedNotFatal) {
  Tier tier = make_tier("t", 60, 0);
  RateState state;
  state.request_tat_ns = 8'000'000'000'000'000'000;  // well-formed but centuries ahead
  RateDecision d = acquire(state, tier, 0, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 61.0);  // clamped to two windows of debt
}

TEST(Gcra, TierValidationAndTtl) {
  EXPECT_TRUE(validate_tier(make_tier("ok", 60, 1000, 4)).is_ok());
  EXPECT_FALSE(validate_tier(make_tier("bad", NAN, 1000)).is_ok());
  EXPECT_FALSE(validate_tier(make_tier("bad", 60, INFINITY)).is_ok());
  EXPECT_FALSE(validate_tier(make_tier("bad", 60, 1000, -1)).is_ok());
  EXPECT_FALSE(validate_tier(make_tier("bad", 60, 1000, 100000)).is_ok());
  EXPECT_EQ(state_ttl_seconds(make_tier("t", 60, 1000)), 121.0);
  EXPECT_EQ(state_ttl_seconds(make_tier("t", 60, 1000, 2)), kSlotLeaseSeconds + 1);
  EXPECT_EQ(state_ttl_seconds(make_tier("t", 0.25, 0)), 481.0);  // one request per 4 minutes
}

}  // namespace
}  // namespace chatscale
