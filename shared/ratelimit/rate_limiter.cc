#include "ratelimit/rate_limiter.h"

#include <optional>
#include <utility>

namespace chatscale {
namespace {

// The blob to store for a state: nothing at all once it holds nothing a fresh state would not, so
// idle users cost no memory even before their TTL runs out.
std::string encode(const RateState& state, double now) {
  return rate_state_is_idle(state, now) ? std::string() : serialize_rate_state(state);
}

}  // namespace

RateLimiter::RateLimiter(RateLimitStore& store, std::vector<Tier> tiers)
    : store_(store), tiers_(std::move(tiers)) {}

const Tier* RateLimiter::find_tier(std::string_view name) const {
  for (const Tier& tier : tiers_) {
    if (tier.name == name) return &tier;
  }
  return nullptr;
}

std::string RateLimiter::store_key(std::string_view user_id) {
  std::string key = "rl:";
  key += user_id;
  return key;
}

Result<const Tier*> RateLimiter::lookup(const std::string& user_id, std::string_view tier) const {
  if (user_id.empty()) return invalid_argument("rate limiter: empty user id");
  const Tier* found = find_tier(tier);
  if (found == nullptr) return invalid_argument("rate limiter: unknown tier '" + std::string(tier) + "'");
  return found;
}

// `apply(const RateState&)` returns Result<RateState>; the store may call it more than once (after a
// conflict), so everything it reports is overwritten on each call. The store's callback captures one
// pointer, which std::function holds without allocating.
template <typename Apply>
Status RateLimiter::update_state(const std::string& user_id, const Tier& tier, double now, Apply apply) {
  struct Context {
    Apply& apply;
    double now;
    Status outcome;
    bool corrupt = false;
  } ctx{apply, now, Status::ok()};
  Status stored = store_.update(store_key(user_id), state_ttl_seconds(tier), [c = &ctx](std::string& blob) {
    Result<RateState> parsed = parse_rate_state(blob);
    c->corrupt = !parsed.is_ok();
    Result<RateState> next = c->apply(c->corrupt ? RateState{} : *parsed);
    c->outcome = next.status();
    if (next.is_ok()) blob = encode(*next, c->now);
  });
  if (ctx.corrupt && stored.is_ok()) corrupt_states_.fetch_add(1, std::memory_order_relaxed);
  CS_RETURN_IF_ERROR(stored);
  return ctx.outcome;
}

Result<RateDecision> RateLimiter::acquire(const std::string& user_id, const std::string& tier,
                                          std::int64_t reserved_tokens, double now) {
  CS_ASSIGN_OR_RETURN(const Tier* t, lookup(user_id, tier));
  std::optional<RateDecision> decision;
  CS_RETURN_IF_ERROR(update_state(user_id, *t, now, [&](const RateState& state) -> Result<RateState> {
    CS_ASSIGN_OR_RETURN(AcquireOutcome outcome, decide_acquire(state, *t, reserved_tokens, now));
    decision = std::move(outcome.decision);
    return std::move(outcome.state);
  }));
  if (!decision) return internal_error("rate limiter: the store did not run the update");
  return std::move(*decision);
}

Status RateLimiter::reconcile(const std::string& user_id, const std::string& tier, std::int64_t reserved,
                              std::int64_t actual, double now) {
  CS_ASSIGN_OR_RETURN(const Tier* t, lookup(user_id, tier));
  if (reserved < 0 || actual < 0) return invalid_argument("rate limiter: token counts must not be negative");
  // Nothing to settle: spare the store a round trip.
  if (reserved == actual || !(t->tokens_per_minute > 0)) return Status::ok();
  return update_state(user_id, *t, now, [&](const RateState& state) {
    return apply_reconcile(state, *t, reserved, actual, now);
  });
}

Status RateLimiter::release(const std::string& user_id, const std::string& tier, double now) {
  CS_ASSIGN_OR_RETURN(const Tier* t, lookup(user_id, tier));
  if (t->max_concurrent == 0) return Status::ok();  // no cap: acquire took no slot
  return update_state(user_id, *t, now, [&](const RateState& state) { return apply_release(state, now); });
}

Result<RateDecision> RateLimiter::peek(const std::string& user_id, const std::string& tier, double now) {
  CS_ASSIGN_OR_RETURN(const Tier* t, lookup(user_id, tier));
  std::optional<RateDecision> decision;
  CS_RETURN_IF_ERROR(update_state(user_id, *t, now, [&](const RateState& state) -> Result<RateState> {
    CS_ASSIGN_OR_RETURN(decision, inspect(state, *t, now));
    return state;
  }));
  if (!decision) return internal_error("rate limiter: the store did not run the update");
  return std::move(*decision);
}

}  // namespace chatscale
