// The rate-limit service: per-user requests per minute, tokens per minute and a concurrency cap,
// by tier, with the state of each user kept in a RateLimitStore under "rl:<user>" (so one Redis
// serves every server, or one in-process map serves a single instance). The decisions are gcra.h's.
//
// Flow: acquire() before the work (reserves prompt + max_tokens and, under a cap, takes an in-flight
// slot); reconcile() with the real usage when it ends; release() to give the slot back. A refused
// acquire consumes nothing and holds no slot.
//
// Ownership: borrows the store (it must outlive the limiter); owns a copy of the tiers.
// Thread-safety: every method may be called from any thread or task at once; the store makes each
// user's read-modify-write atomic.
// Failure: unknown tier, empty user id, bad token counts or time: InvalidArgument; a store failure is
// passed on. A stored blob that does not parse is replaced by a fresh state (a corrupt blob never
// blocks a user) and counted in corrupt_states().
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ports/stores.h"
#include "ratelimit/gcra.h"
#include "ratelimit/rate_decision.h"
#include "ratelimit/tier.h"

namespace chatscale {

class RateLimiter {
 public:
  RateLimiter(RateLimitStore& store, std::vector<Tier> tiers);

  // A decision either way (check `allowed`, or turn a refusal into a 429 with to_status() and
  // rate_limit_headers()); an error only for bad arguments or a failing store.
  Result<RateDecision> acquire(const std::string& user_id, const std::string& tier,
                               std::int64_t reserved_tokens, double now);
  // Settles the tokens reserved by acquire() against what was really used (no store access when
  // they match or the tier does not limit tokens).
  Status reconcile(const std::string& user_id, const std::string& tier, std::int64_t reserved,
                   std::int64_t actual, double now);
  // Gives back the in-flight slot taken by an allowed acquire() (a no-op when none is held, and no
  // store access when the tier has no concurrency cap).
  Status release(const std::string& user_id, const std::string& tier, double now);
  // The user's current headroom, taking nothing (headers for responses that were not limited). It
  // goes through the store's update like the others, which refreshes the TTL.
  Result<RateDecision> peek(const std::string& user_id, const std::string& tier, double now);

  const Tier* find_tier(std::string_view name) const;
  // Stored blobs that did not parse and were replaced by a fresh state.
  std::int64_t corrupt_states() const { return corrupt_states_.load(std::memory_order_relaxed); }

  static std::string store_key(std::string_view user_id);  // "rl:<user>"

 private:
  Result<const Tier*> lookup(const std::string& user_id, std::string_view tier) const;
  // Runs `apply` on the user's state inside one atomic store update and stores what it returns
  // (nothing when it fails). A corrupt blob reads as a fresh state and is counted.
  template <typename Apply>
  Status update_state(const std::string& user_id, const Tier& tier, double now, Apply apply);

  RateLimitStore& store_;
  const std::vector<Tier> tiers_;
  std::atomic<std::int64_t> corrupt_states_{0};
};

}  // namespace chatscale
