#include "ratelimit/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "ratelimit/memory_rate_limit_store.h"
#include "testing/manual_clock.h"

namespace chatscale {
namespace {

constexpr double kT0 = 1'700'000'000.0;

Tier make_tier(std::string name, double rpm, double tpm, std::int64_t max_concurrent) {
  Tier tier;
  tier.name = std::move(name);
  tier.requests_per_minute = rpm;
  tier.tokens_per_minute = tpm;
  tier.max_concurrent = max_concurrent;
  return tier;
}

std::vector<Tier> tiers() {
  return {make_tier("free", 3, 4000, 1), make_tier("plus", 60, 100000, 4), make_tier("bulk", 100, 0, 0)};
}

// A map behind a mutex that records what the limiter asked of it; it can fail, or run each update
// twice (the first attempt discarded, as after a compare-and-set conflict).
class RecordingStore : public RateLimitStore {
 public:
  Status update(const std::string& key, double ttl_seconds,
                const std::function<void(std::string& blob)>& update) override {
    std::lock_guard lock(mu_);
    if (!fail_with.is_ok()) return fail_with;
    last_key = key;
    last_ttl = ttl_seconds;
    if (conflict_once) {
      std::string discarded = blobs[key];
      update(discarded);
    }
    update(blobs[key]);
    return Status::ok();
  }

  std::map<std::string, std::string> blobs;
  std::string last_key;
  double last_ttl = 0;
  bool conflict_once = false;
  Status fail_with;

 private:
  std::mutex mu_;
};

TEST(RateLimiter, UnknownTierAndEmptyUserAreInvalid) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  EXPECT_EQ(limiter.acquire("alice", "gold", 10, kT0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter.release("alice", "gold", kT0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter.reconcile("alice", "gold", 1, 1, kT0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter.acquire("", "free", 10, kT0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter.find_tier("gold"), nullptr);
  ASSERT_NE(limiter.find_tier("plus"), nullptr);
  EXPECT_EQ(limiter.find_tier("plus")->requests_per_minute, 60);
  EXPECT_TRUE(store.blobs.empty()) << "nothing touched the store";
}

TEST(RateLimiter, KeysAreNamespacedWithATtl) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  ASSERT_TRUE(limiter.acquire("alice", "bulk", 10, kT0)->allowed);
  EXPECT_EQ(store.last_key, "rl:alice");
  EXPECT_EQ(store.last_ttl, state_ttl_seconds(tiers()[2]));
  EXPECT_TRUE(parse_rate_state(store.blobs["rl:alice"]).is_ok());
}

TEST(RateLimiter, TiersDiffer) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  int free_allowed = 0;
  int plus_allowed = 0;
  for (int i = 0; i < 100; ++i) {
    Result<RateDecision> f = limiter.acquire("f", "free", 10, kT0);
    Result<RateDecision> p = limiter.acquire("p", "plus", 10, kT0);
    ASSERT_TRUE(f.is_ok() && p.is_ok());
    free_allowed += f->allowed ? 1 : 0;
    plus_allowed += p->allowed ? 1 : 0;
    ASSERT_TRUE(limiter.release("f", "free", kT0).is_ok());  // only the rate limits bind here
    ASSERT_TRUE(limiter.release("p", "plus", kT0).is_ok());
  }
  EXPECT_EQ(free_allowed, 3);
  EXPECT_EQ(plus_allowed, 60);
}

TEST(RateLimiter, UsersAreIndependent) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.acquire("a", "bulk", 0, kT0)->allowed);
  EXPECT_FALSE(limiter.acquire("a", "bulk", 0, kT0)->allowed);
  EXPECT_TRUE(limiter.acquire("b", "bulk", 0, kT0)->allowed);
}

TEST(RateLimiter, ReserveReconcileRelease) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  Result<RateDecision> first = limiter.acquire("u", "free", 3000, kT0);
  ASSERT_TRUE(first.is_ok() && first->allowed);
  EXPECT_EQ(first->tokens.remaining, 1000);
  EXPECT_EQ(first->in_flight, 1);

  Result<RateDecision> capped = limiter.acquire("u", "free", 10, kT0);
  EXPECT_FALSE(capped->allowed);
  EXPECT_EQ(capped->limited_by, RateLimitKind::kConcurrency);
  Status status = capped->to_status();
  EXPECT_EQ(status.code(), StatusCode::kRateLimited);
  EXPECT_NE(status.message().find("retry after 1 s"), std::string::npos);

  ASSERT_TRUE(limiter.reconcile("u", "free", 3000, 500, kT0).is_ok());
  ASSERT_TRUE(limiter.release("u", "free", kT0).is_ok());
  Result<RateDecision> second = limiter.acquire("u", "free", 3500, kT0);
  ASSERT_TRUE(second->allowed) << "the refund made room for 3500 more";
  EXPECT_EQ(second->tokens.remaining, 0);
  ASSERT_TRUE(limiter.release("u", "free", kT0).is_ok());

  Result<RateDecision> peek = limiter.peek("u", "free", kT0);
  ASSERT_TRUE(peek.is_ok());
  EXPECT_EQ(peek->requests.remaining, 1);
  EXPECT_EQ(peek->in_flight, 0);
}

TEST(RateLimiter, ReservationBeyondTheTierIsInvalid) {
  RecordingStore store;
  RateLimiter limiter(store, tiers());
  Result<RateDecision> d = limiter.acquire("u", "free", 4001, kT0);
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(limiter.acquire("u", "free", 4000, kT0)->allowed) << "the refused one consumed nothing";
}

TEST(RateLimiter, GarbageBlobIsAFreshStateAndCounted) {
  RecordingStore store;
  store.blobs["rl:bob"] = "\x01garbage:zz";
  RateLimiter limiter(store, tiers());
  Result<RateDecision> d = limiter.acquire("bob", "plus", 100, kT0);
  ASSERT_TRUE(d.is_ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->requests.remaining, 59);
  EXPECT_EQ(limiter.corrupt_states(), 1);
  EXPECT_TRUE(parse_rate_state(store.blobs["rl:bob"]).is_ok());
  ASSERT_TRUE(limiter.acquire("bob", "plus", 100, kT0)->allowed);
  EXPECT_EQ(limiter.corrupt_states(), 1);
}

TEST(RateLimiter, StoreFailuresPassThrough) {
  RecordingStore store;
  store.fail_with = unavailable("redis down");
  RateLimiter limiter(store, tiers());
  EXPECT_EQ(limiter.acquire("u", "plus", 1, kT0).status(), unavailable("redis down"));
  EXPECT_EQ(limiter.release("u", "plus", kT0), unavailable("redis down"));
  EXPECT_EQ(limiter.reconcile("u", "plus", 10, 5, kT0), unavailable("redis down"));
  // Nothing to do, so the store is not asked: no cap to release, nothing to settle.
  EXPECT_TRUE(limiter.release("u", "bulk", kT0).is_ok());
  EXPECT_TRUE(limiter.reconcile("u", "plus", 10, 10, kT0).is_ok());
  EXPECT_TRUE(limiter.reconcile("u", "bulk", 10, 5, kT0).is_ok());
}

TEST(RateLimiter, RetriedUpdatesReportTheCommittedAttempt) {
  RecordingStore store;
  store.conflict_once = true;
  RateLimiter limiter(store, tiers());
  for (int i = 0; i < 3; ++i) {
    Result<RateDecision> d = limiter.acquire("u", "free", 0, kT0 + 60.0 * i);
    ASSERT_TRUE(d->allowed);
    EXPECT_EQ(d->requests.remaining, 2) << "each acquire counted once";
    ASSERT_TRUE(limiter.release("u", "free", kT0 + 60.0 * i).is_ok());
  }
}

TEST(RateLimiter, IdleStateExpiresFromTheMemoryStore) {
  testing::ManualClock clock(kT0);
  MemoryRateLimitStore store(clock);
  RateLimiter limiter(store, tiers());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.acquire("a" + std::to_string(i), "bulk", 0, kT0)->allowed);
  EXPECT_EQ(store.size(), 3u);
  clock.advance(state_ttl_seconds(tiers()[2]) - 1);
  EXPECT_EQ(store.sweep(), 0u);
  clock.advance(1);
  EXPECT_EQ(store.sweep(), 3u);
  EXPECT_EQ(store.size(), 0u);
  Result<RateDecision> back = limiter.acquire("a0", "bulk", 0, clock.now());
  EXPECT_EQ(back->requests.remaining, 99);
}

TEST(RateLimiter, StateWithNothingLeftIsDeleted) {
  testing::ManualClock clock(kT0);
  MemoryRateLimitStore store(clock);
  RateLimiter limiter(store, tiers());
  ASSERT_TRUE(limiter.acquire("u", "plus", 10, kT0)->allowed);
  EXPECT_EQ(store.size(), 1u);
  ASSERT_TRUE(limiter.release("u", "plus", kT0 + 120).is_ok());
  EXPECT_EQ(store.size(), 0u) << "buckets full and nothing in flight: no blob kept";
}

// 8 threads x 1000 attempts at one instant: exactly one burst gets through.
TEST(RateLimiter, ConcurrentAcquireNeverOverAdmits) {
  testing::ManualClock clock(kT0);
  MemoryRateLimitStore store(clock);
  RateLimiter limiter(store, tiers());
  std::atomic<int> allowed{0};
  std::atomic<int> capped{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        Result<RateDecision> bulk = limiter.acquire("shared-user", "bulk", 0, kT0);
        if (bulk.is_ok() && bulk->allowed) allowed.fetch_add(1);
        Result<RateDecision> plus = limiter.acquire("capped-user", "plus", 0, kT0 + 3600);
        if (plus.is_ok() && plus->allowed) capped.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
  EXPECT_EQ(capped.load(), 4) << "the concurrency cap, never released";
}

}  // namespace
}  // namespace chatscale
