// The rate-limit decision core: GCRA (generic cell rate algorithm) on requests per minute and tokens
// per minute, plus a per-user concurrency cap. Pure functions of (state, tier, arguments, now): no
// clock, no I/O, no shared state; thread-safe. Callers keep the state (RateLimiter keeps it in a
// RateLimitStore as the blob from serialize_rate_state).
//
// GCRA keeps one "theoretical arrival time" (TAT) per dimension. A limit of R per minute gives an
// emission interval T = 60 s / R; taking n cells moves TAT to max(TAT, now) + n*T and is allowed when
// the new TAT is at most one window (60 s, the burst of one minute's allowance) ahead of now.
// Times are kept as integer nanoseconds, so a burst admits exactly the allowance and retry times are
// exact; `now` is seconds on the caller's time line (0 <= now < 9e9).
//
// Limits of zero or less mean "unlimited" (requests or tokens); max_concurrent 0 means no cap.
// Failure: invalid arguments come back as InvalidArgument; a refused request changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ratelimit/rate_decision.h"
#include "ratelimit/tier.h"

namespace chatscale {

inline constexpr double kRateWindowSeconds = 60;
// An in-flight slot not released within this time is presumed leaked (a server died mid-request)
// and stops counting against the cap.
inline constexpr double kSlotLeaseSeconds = 900;
// A request refused by the concurrency cap is told to retry after this long: slots free up when
// other requests end, which the limiter cannot predict.
inline constexpr double kConcurrencyRetryAfterSeconds = 1;
// Token debt from overruns is capped so that TAT stays at most this many windows ahead of now.
inline constexpr double kMaxDebtWindows = 2;
// Most in-flight slots a state tracks; a tier's max_concurrent may not exceed it.
inline constexpr std::size_t kMaxTrackedSlots = 1024;

struct RateState {
  std::int64_t request_tat_ns = 0;  // 0 (or any time not after now) means a full bucket
  std::int64_t token_tat_ns = 0;
  std::vector<std::int64_t> slots_ns;  // start times of in-flight requests, oldest first

  friend bool operator==(const RateState&, const RateState&) = default;
};

// Compact text form, e.g. "1:1700000001000000000:1700000000500000000:1700000000000000000".
std::string serialize_rate_state(const RateState& state);
// The empty blob is a fresh state. Anything that is not exactly what serialize_rate_state writes
// (wrong version, junk, negative or out-of-range numbers, too many slots) is InvalidArgument; callers
// treat that as a fresh state.
Result<RateState> parse_rate_state(std::string_view blob);

// True when the state holds nothing a fresh state would not: both buckets full, nothing in flight.
bool rate_state_is_idle(const RateState& state, double now);

// InvalidArgument when a limit is NaN or infinite, or max_concurrent is negative or above
// kMaxTrackedSlots.
Status validate_tier(const Tier& tier);

struct AcquireOutcome {
  RateDecision decision;
  RateState state;  // the state to keep: unchanged when refused
};

// Takes one request, `reserved_tokens` tokens (prompt + max_tokens) and, under a cap, one in-flight
// slot. InvalidArgument for a bad tier, a bad `now`, negative tokens, or more tokens than the tier's
// per-minute limit can ever admit (such a request would wait forever).
Result<AcquireOutcome> decide_acquire(const RateState& state, const Tier& tier, std::int64_t reserved_tokens,
                                      double now);

// Settles a reservation with the real usage: refunds reserved - actual (never beyond a full bucket)
// or charges the overrun (the debt capped at kMaxDebtWindows). InvalidArgument for negative counts or
// a bad `now`.
Result<RateState> apply_reconcile(const RateState& state, const Tier& tier, std::int64_t reserved,
                                  std::int64_t actual, double now);

// Gives back the oldest in-flight slot (none held: unchanged). InvalidArgument for a bad `now`.
Result<RateState> apply_release(const RateState& state, double now);

// The state's headroom without taking anything (for headers on responses that were not limited).
Result<RateDecision> inspect(const RateState& state, const Tier& tier, double now);

// How long a stored state must outlive its last update for the tier: the longest debt, and under a
// concurrency cap the slot lease, plus a second.
double state_ttl_seconds(const Tier& tier);

}  // namespace chatscale
