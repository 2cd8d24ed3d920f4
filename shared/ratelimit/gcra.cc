#include "ratelimit/gcra.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <utility>

namespace chatscale {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kWindowNs = static_cast<std::int64_t>(kRateWindowSeconds) * kNanosPerSecond;
constexpr std::int64_t kSlotLeaseNs = static_cast<std::int64_t>(kSlotLeaseSeconds) * kNanosPerSecond;
constexpr double kMaxNowSeconds = 9e9;  // keeps now + debt inside int64 nanoseconds
constexpr double kMaxIntervalNs = 1e17;  // about three years per cell: any slower limit is "never"

Result<std::int64_t> to_nanos(double now) {
  if (!std::isfinite(now) || now < 0 || now >= kMaxNowSeconds) {
    return invalid_argument("rate limiter: time " + std::to_string(now) + " is out of range");
  }
  return static_cast<std::int64_t>(std::llround(now * 1e9));
}

double to_seconds(std::int64_t nanos) { return static_cast<double>(nanos) / 1e9; }

// One per-minute limit in GCRA terms. The interval is rounded down so that `limit` cells always fit
// in the window; the tolerance is at least one interval so that a limit below 1 per minute still
// admits one cell per interval.
struct Dimension {
  bool unlimited = true;
  double limit = 0;
  std::int64_t interval_ns = 1;
  std::int64_t tolerance_ns = 0;
  std::int64_t capacity = 0;  // the most cells one take can ever need
  std::int64_t max_ahead_ns = 0;  // the most TAT may run ahead of now (debt cap)
};

Dimension dimension_for(double per_minute) {
  Dimension d;
  if (!(per_minute > 0)) return d;
  d.unlimited = false;
  d.limit = per_minute;
  double interval = std::floor(static_cast<double>(kWindowNs) / per_minute);
  d.interval_ns = static_cast<std::int64_t>(std::clamp(interval, 1.0, kMaxIntervalNs));
  d.tolerance_ns = std::max(kWindowNs, d.interval_ns);
  d.capacity = d.tolerance_ns / d.interval_ns;
  d.max_ahead_ns = static_cast<std::int64_t>(kMaxDebtWindows) * d.tolerance_ns;
  return d;
}

struct Take {
  bool allowed = true;
  std::int64_t new_tat_ns = 0;
  std::int64_t retry_ns = 0;
};

// Callers keep cells <= capacity, so cells * interval stays within the tolerance.
Take take(const Dimension& d, std::int64_t tat, std::int64_t cells, std::int64_t now) {
  if (d.unlimited) return {true, tat, 0};
  std::int64_t new_tat = std::max(tat, now) + cells * d.interval_ns;
  std::int64_t ahead = new_tat - now;
  if (ahead <= d.tolerance_ns) return {true, new_tat, 0};
  return {false, new_tat, ahead - d.tolerance_ns};
}

RateLimitInfo describe(const Dimension& d, std::int64_t tat, std::int64_t now, std::int64_t retry_ns) {
  RateLimitInfo info;
  if (d.unlimited) return info;
  std::int64_t backlog = std::max<std::int64_t>(0, tat - now);
  info.unlimited = false;
  info.limit = d.limit;
  info.remaining = backlog >= d.tolerance_ns ? 0 : (d.tolerance_ns - backlog) / d.interval_ns;
  info.reset_seconds = to_seconds(backlog);
  info.retry_after_seconds = to_seconds(retry_ns);
  return info;
}

// A reservation no bucket can ever hold would wait forever: refuse it as a bad request instead.
Status check_reservation(const Tier& tier, const Dimension& tok, std::int64_t reserved_tokens) {
  if (reserved_tokens < 0) return invalid_argument("reserved tokens must not be negative");
  if (tok.unlimited || reserved_tokens <= tok.capacity) return Status::ok();
  return invalid_argument("request reserves " + std::to_string(reserved_tokens) +
                          " tokens (prompt + max_tokens) but tier '" + tier.name + "' allows at most " +
                          std::to_string(tok.capacity) +
                          " tokens per minute; lower max_tokens or shorten the conversation");
}

// The refusing limit with the longest wait names the refusal; ties go to requests, then tokens.
void name_refusal(RateDecision& d, bool capped) {
  if (d.allowed) return;
  const std::pair<RateLimitKind, double> waits[] = {
      {RateLimitKind::kRequests, d.requests.retry_after_seconds},
      {RateLimitKind::kTokens, d.tokens.retry_after_seconds},
      {RateLimitKind::kConcurrency, capped ? kConcurrencyRetryAfterSeconds : 0.0}};
  for (const auto& [kind, wait] : waits) {
    if (wait > d.retry_after_seconds) {
      d.retry_after_seconds = wait;
      d.limited_by = kind;
    }
  }
}

// Caps cells so that cells * interval cannot overflow (more than the debt cap means nothing more).
std::int64_t cells_to_nanos(const Dimension& d, std::int64_t cells) {
  std::int64_t max_cells = d.max_ahead_ns / d.interval_ns + 1;
  return std::min(cells, max_cells) * d.interval_ns;
}

std::int64_t clamp_tat(const Dimension& d, std::int64_t tat, std::int64_t now) {
  if (d.unlimited) return tat;
  return std::min(tat, now + d.max_ahead_ns);
}

// Slots held past the lease are presumed leaked and dropped.
void prune_slots(std::vector<std::int64_t>& slots, std::int64_t now) {
  std::erase_if(slots, [now](std::int64_t start) { return start + kSlotLeaseNs <= now; });
}

bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

// Splits "a:b:c:d" into exactly `n` fields; false for any other count.
bool split_fields(std::string_view blob, char sep, std::string_view* fields, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t pos = blob.find(sep);
    bool last = i + 1 == n;
    if (last != (pos == std::string_view::npos)) return false;
    fields[i] = blob.substr(0, pos);
    if (!last) blob.remove_prefix(pos + 1);
  }
  return true;
}

Result<std::vector<std::int64_t>> parse_slots(std::string_view text) {
  std::vector<std::int64_t> slots;
  while (!text.empty()) {
    std::size_t pos = text.find(',');
    std::int64_t start = 0;
    if (!parse_int(text.substr(0, pos), start) || slots.size() >= kMaxTrackedSlots) {
      return invalid_argument("rate-limit state: bad in-flight slot list");
    }
    slots.push_back(start);
    if (pos == std::string_view::npos) break;
    text.remove_prefix(pos + 1);
    if (text.empty()) return invalid_argument("rate-limit state: trailing comma");
  }
  return slots;
}

}  // namespace

std::string serialize_rate_state(const RateState& state) {
  // Decimal int64s with to_chars: no temporaries, and one allocation for the usual state.
  constexpr std::size_t kMaxDigits = 20;
  std::string out(2 + 3 * kMaxDigits + state.slots_ns.size() * (kMaxDigits + 1), '\0');
  char* p = out.data();
  char* end = p + out.size();
  auto put = [&](std::int64_t value, char after) {
    p = std::to_chars(p, end, value).ptr;
    if (after != '\0') *p++ = after;
  };
  *p++ = '1';
  *p++ = ':';
  put(state.request_tat_ns, ':');
  put(state.token_tat_ns, ':');
  std::size_t n = state.slots_ns.size();
  for (std::size_t i = 0; i < n; ++i) put(state.slots_ns[i], i + 1 < n ? ',' : '\0');
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

Result<RateState> parse_rate_state(std::string_view blob) {
  if (blob.empty()) return RateState{};
  std::string_view fields[4];
  if (!split_fields(blob, ':', fields, 4) || fields[0] != "1") {
    return invalid_argument("rate-limit state: not a version 1 blob");
  }
  RateState state;
  if (!parse_int(fields[1], state.request_tat_ns) || !parse_int(fields[2], state.token_tat_ns)) {
    return invalid_argument("rate-limit state: bad arrival time");
  }
  CS_ASSIGN_OR_RETURN(state.slots_ns, parse_slots(fields[3]));
  return state;
}

bool rate_state_is_idle(const RateState& state, double now) {
  Result<std::int64_t> now_ns = to_nanos(now);
  if (!now_ns.is_ok()) return false;
  std::int64_t n = *now_ns;
  bool live_slot = std::any_of(state.slots_ns.begin(), state.slots_ns.end(),
                               [n](std::int64_t start) { return start + kSlotLeaseNs > n; });
  return state.request_tat_ns <= n && state.token_tat_ns <= n && !live_slot;
}

Status validate_tier(const Tier& tier) {
  if (!std::isfinite(tier.requests_per_minute) || !std::isfinite(tier.tokens_per_minute)) {
    return invalid_argument("tier '" + tier.name + "': limits must be finite numbers");
  }
  if (tier.max_concurrent < 0 || tier.max_concurrent > static_cast<std::int64_t>(kMaxTrackedSlots)) {
    return invalid_argument("tier '" + tier.name + "': max_concurrent must be between 0 and " +
                            std::to_string(kMaxTrackedSlots));
  }
  return Status::ok();
}

Result<AcquireOutcome> decide_acquire(const RateState& state, const Tier& tier, std::int64_t reserved_tokens,
                                      double now) {
  CS_RETURN_IF_ERROR(validate_tier(tier));
  CS_ASSIGN_OR_RETURN(std::int64_t now_ns, to_nanos(now));
  Dimension req = dimension_for(tier.requests_per_minute);
  Dimension tok = dimension_for(tier.tokens_per_minute);
  CS_RETURN_IF_ERROR(check_reservation(tier, tok, reserved_tokens));
  RateState next = state;
  next.request_tat_ns = clamp_tat(req, next.request_tat_ns, now_ns);
  next.token_tat_ns = clamp_tat(tok, next.token_tat_ns, now_ns);
  prune_slots(next.slots_ns, now_ns);
  Take r = take(req, next.request_tat_ns, 1, now_ns);
  Take t = take(tok, next.token_tat_ns, reserved_tokens, now_ns);
  bool capped = tier.max_concurrent > 0 && std::ssize(next.slots_ns) >= tier.max_concurrent;
  bool allowed = r.allowed && t.allowed && !capped;
  if (allowed) {
    next.request_tat_ns = r.new_tat_ns;
    next.token_tat_ns = t.new_tat_ns;
    if (tier.max_concurrent > 0) next.slots_ns.push_back(now_ns);
  }
  RateDecision d;
  d.allowed = allowed;
  d.tier = tier.name;
  d.reserved_tokens = reserved_tokens;
  d.max_concurrent = tier.max_concurrent;
  d.in_flight = std::ssize(next.slots_ns);
  d.requests = describe(req, next.request_tat_ns, now_ns, r.retry_ns);
  d.tokens = describe(tok, next.token_tat_ns, now_ns, t.retry_ns);
  name_refusal(d, capped);
  return AcquireOutcome{std::move(d), allowed ? std::move(next) : state};
}

Result<RateState> apply_reconcile(const RateState& state, const Tier& tier, std::int64_t reserved,
                                  std::int64_t actual, double now) {
  CS_ASSIGN_OR_RETURN(std::int64_t now_ns, to_nanos(now));
  if (reserved < 0 || actual < 0) return invalid_argument("token counts must not be negative");
  Dimension tok = dimension_for(tier.tokens_per_minute);
  RateState next = state;
  if (tok.unlimited || reserved == actual) return next;
  std::int64_t tat = clamp_tat(tok, next.token_tat_ns, now_ns);
  if (actual < reserved) {
    // A refund gives back unused cells; a bucket that has refilled meanwhile stays merely full.
    std::int64_t refund_ns = cells_to_nanos(tok, reserved - actual);
    next.token_tat_ns = tat <= now_ns ? tat : std::max(now_ns, tat - refund_ns);
  } else {
    std::int64_t charged = std::max(tat, now_ns) + cells_to_nanos(tok, actual - reserved);
    next.token_tat_ns = std::min(charged, now_ns + tok.max_ahead_ns);
  }
  return next;
}

Result<RateState> apply_release(const RateState& state, double now) {
  CS_ASSIGN_OR_RETURN(std::int64_t now_ns, to_nanos(now));
  RateState next = state;
  prune_slots(next.slots_ns, now_ns);
  if (!next.slots_ns.empty()) {
    next.slots_ns.erase(std::min_element(next.slots_ns.begin(), next.slots_ns.end()));
  }
  return next;
}

Result<RateDecision> inspect(const RateState& state, const Tier& tier, double now) {
  CS_RETURN_IF_ERROR(validate_tier(tier));
  CS_ASSIGN_OR_RETURN(std::int64_t now_ns, to_nanos(now));
  Dimension req = dimension_for(tier.requests_per_minute);
  Dimension tok = dimension_for(tier.tokens_per_minute);
  std::vector<std::int64_t> slots = state.slots_ns;
  prune_slots(slots, now_ns);
  RateDecision d;
  d.allowed = true;
  d.tier = tier.name;
  d.max_concurrent = tier.max_concurrent;
  d.in_flight = static_cast<std::int64_t>(slots.size());
  d.requests = describe(req, clamp_tat(req, state.request_tat_ns, now_ns), now_ns, 0);
  d.tokens = describe(tok, clamp_tat(tok, state.token_tat_ns, now_ns), now_ns, 0);
  return d;
}

double state_ttl_seconds(const Tier& tier) {
  double longest_debt = kMaxDebtWindows * kRateWindowSeconds;
  for (double per_minute : {tier.requests_per_minute, tier.tokens_per_minute}) {
    Dimension d = dimension_for(per_minute);
    if (!d.unlimited) longest_debt = std::max(longest_debt, to_seconds(d.max_ahead_ns));
  }
  double lease = tier.max_concurrent > 0 ? kSlotLeaseSeconds : 0;
  return std::max(longest_debt, lease) + 1;
}

}  // namespace chatscale
