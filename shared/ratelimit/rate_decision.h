// What a rate-limit decision tells the caller: allowed or refused, which limit refused it, and for
// requests and tokens everything a 429 and the `x-ratelimit-*` headers need. Plain values; the
// functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace chatscale {

// Which limit refused a request. The names ("requests", "tokens", "concurrency") are the `limit`
// label of chatscale_rate_limited_total.
enum class RateLimitKind { kNone, kRequests, kTokens, kConcurrency };
std::string_view rate_limit_kind_name(RateLimitKind kind);  // "" for kNone

// One per-minute dimension (requests or tokens) after the decision.
struct RateLimitInfo {
  bool unlimited = true;          // the tier sets no limit on this dimension; the rest is zero
  double limit = 0;               // allowance per minute, which is also the burst
  std::int64_t remaining = 0;     // what could still be taken right now, after this decision
  double reset_seconds = 0;       // until the bucket is full again
  double retry_after_seconds = 0;  // until this request would pass this dimension; 0 when it passes
};

struct RateDecision {
  bool allowed = false;
  RateLimitKind limited_by = RateLimitKind::kNone;  // the refusing limit with the longest wait
  double retry_after_seconds = 0;  // until every refusing limit would pass; 0 when allowed
  std::string tier;
  RateLimitInfo requests;
  RateLimitInfo tokens;
  std::int64_t reserved_tokens = 0;  // what the request asked to reserve
  std::int64_t in_flight = 0;        // the user's requests in flight after this decision
  std::int64_t max_concurrent = 0;   // 0 = no concurrency cap

  // OK when allowed; otherwise kRateLimited with which limit was hit and when to retry, e.g.
  // "rate limit reached for requests on tier 'free' (3 per minute); retry after 20 s".
  Status to_status() const;
};

using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

// The OpenAI-style headers for a decision: x-ratelimit-{limit,remaining,reset}-{requests,tokens}
// (a dimension the tier leaves unlimited is omitted) and, when refused, Retry-After in whole seconds,
// rounded up, at least 1.
HttpHeaderList rate_limit_headers(const RateDecision& decision);

// A duration the way OpenAI's reset headers write it (Go's time.Duration style, millisecond
// resolution rounded up): "0s", "20ms", "1s", "1.5s", "6m0s", "1h2m3s". Negative and NaN read as 0.
std::string format_reset_duration(double seconds);

// Whole seconds for Retry-After: rounded up, at least 1.
std::int64_t retry_after_header_seconds(double seconds);

}  // namespace chatscale
