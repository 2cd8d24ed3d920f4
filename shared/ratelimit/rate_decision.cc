#include "ratelimit/rate_decision.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace chatscale {
namespace {

// A limit as people write it: "60", "0.5", "1e+06" never (integers print in full).
std::string format_number(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

// Milliseconds, rounded up; the small slack keeps 0.02 s (0.020000000000000004 * 1000) at 20 ms.
std::int64_t ceil_millis(double seconds) {
  if (!(seconds > 0)) return 0;  // negative and NaN
  constexpr double kMaxSeconds = 1e12;
  if (seconds > kMaxSeconds) seconds = kMaxSeconds;
  return static_cast<std::int64_t>(std::ceil(seconds * 1000.0 - 1e-6));
}

void append_seconds(std::string& out, std::int64_t millis) {
  out += std::to_string(millis / 1000);
  std::int64_t frac = millis % 1000;
  if (frac != 0) {
    std::string digits = std::to_string(frac + 1000).substr(1);  // zero-padded to 3 digits
    while (digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  out += 's';
}

void add_dimension(HttpHeaderList& headers, const RateLimitInfo& info, const std::string& suffix) {
  if (info.unlimited) return;
  headers.emplace_back("x-ratelimit-limit-" + suffix, format_number(info.limit));
  headers.emplace_back("x-ratelimit-remaining-" + suffix, std::to_string(info.remaining));
  headers.emplace_back("x-ratelimit-reset-" + suffix, format_reset_duration(info.reset_seconds));
}

}  // namespace

std::string_view rate_limit_kind_name(RateLimitKind kind) {
  switch (kind) {
    case RateLimitKind::kNone: return "";
    case RateLimitKind::kRequests: return "requests";
    case RateLimitKind::kTokens: return "tokens";
    case RateLimitKind::kConcurrency: return "concurrency";
  }
  return "";
}

std::string format_reset_duration(double seconds) {
  std::int64_t ms = ceil_millis(seconds);
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  std::int64_t hours = ms / 3'600'000;
  std::int64_t minutes = (ms / 60'000) % 60;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  append_seconds(out, ms % 60'000);
  return out;
}

std::int64_t retry_after_header_seconds(double seconds) {
  std::int64_t ms = ceil_millis(seconds);
  std::int64_t whole = (ms + 999) / 1000;
  return whole < 1 ? 1 : whole;
}

Status RateDecision::to_status() const {
  if (allowed) return Status::ok();
  std::string wait = std::to_string(retry_after_header_seconds(retry_after_seconds));
  std::string retry = "; retry after " + wait + " s";
  std::string on_tier = " on tier '" + tier + "'";
  switch (limited_by) {
    case RateLimitKind::kRequests:
      return rate_limited("rate limit reached for requests" + on_tier + ": " + format_number(requests.limit) +
                          " per minute" + retry);
    case RateLimitKind::kTokens:
      return rate_limited("rate limit reached for tokens" + on_tier + ": " + format_number(tokens.limit) +
                          " per minute, " + std::to_string(tokens.remaining) + " remaining, " +
                          std::to_string(reserved_tokens) + " requested" + retry);
    case RateLimitKind::kConcurrency:
      return rate_limited("too many concurrent requests" + on_tier + ": " + std::to_string(in_flight) +
                          " in flight, limit " + std::to_string(max_concurrent) + retry);
    case RateLimitKind::kNone: break;
  }
  return rate_limited("rate limit reached" + on_tier + retry);
}

HttpHeaderList rate_limit_headers(const RateDecision& decision) {
  HttpHeaderList headers;
  headers.reserve(7);
  add_dimension(headers, decision.requests, "requests");
  add_dimension(headers, decision.tokens, "tokens");
  if (!decision.allowed) {
    std::int64_t wait = retry_after_header_seconds(decision.retry_after_seconds);
    headers.emplace_back("Retry-After", std::to_string(wait));
  }
  return headers;
}

}  // namespace chatscale
