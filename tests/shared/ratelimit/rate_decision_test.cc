#include "ratelimit/rate_decision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace chatscale {
namespace {

std::string header(const HttpHeaderList& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

RateDecision sample_decision() {
  RateDecision d;
  d.allowed = true;
  d.tier = "free";
  d.requests = {false, 60, 59, 1.0, 0};
  d.tokens = {false, 150000, 149000, 0.4, 0};
  return d;
}

TEST(RateDecision, ResetDurationsAreOpenAiStyle) {
  EXPECT_EQ(format_reset_duration(0), "0s");
  EXPECT_EQ(format_reset_duration(-3), "0s");
  EXPECT_EQ(format_reset_duration(NAN), "0s");
  EXPECT_EQ(format_reset_duration(0.02), "20ms");
  EXPECT_EQ(format_reset_duration(0.0201), "21ms");  // rounded up, never earlier than true
  EXPECT_EQ(format_reset_duration(1e-7), "1ms");
  EXPECT_EQ(format_reset_duration(1), "1s");
  EXPECT_EQ(format_reset_duration(1.5), "1.5s");
  EXPECT_EQ(format_reset_duration(12.345), "12.345s");
  EXPECT_EQ(format_reset_duration(360), "6m0s");
  EXPECT_EQ(format_reset_duration(61.25), "1m1.25s");
  EXPECT_EQ(format_reset_duration(3723), "1h2m3s");
  EXPECT_EQ(format_reset_duration(3600), "1h0m0s");
  EXPECT_EQ(format_reset_duration(59.9991), "1m0s");
}

TEST(RateDecision, RetryAfterIsWholeSecondsRoundedUpAtLeastOne) {
  EXPECT_EQ(retry_after_header_seconds(0), 1);
  EXPECT_EQ(retry_after_header_seconds(0.2), 1);
  EXPECT_EQ(retry_after_header_seconds(1.0), 1);
  EXPECT_EQ(retry_after_header_seconds(1.001), 2);
  EXPECT_EQ(retry_after_header_seconds(20), 20);
  EXPECT_EQ(retry_after_header_seconds(59.5), 60);
}

TEST(RateDecision, HeadersOfAnAllowedDecision) {
  HttpHeaderList headers = rate_limit_headers(sample_decision());
  ASSERT_EQ(headers.size(), 6u);
  EXPECT_EQ(header(headers, "x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-requests"), "59");
  EXPECT_EQ(header(headers, "x-ratelimit-reset-requests"), "1s");
  EXPECT_EQ(header(headers, "x-ratelimit-limit-tokens"), "150000");
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "149000");
  EXPECT_EQ(header(headers, "x-ratelimit-reset-tokens"), "400ms");
  EXPECT_EQ(header(headers, "Retry-After"), "<absent>");
}

TEST(RateDecision, HeadersOfARefusal) {
  RateDecision d = sample_decision();
  d.allowed = false;
  d.limited_by = RateLimitKind::kRequests;
  d.requests = {false, 0.5, 0, 100.2, 100.2};
  d.retry_after_seconds = 100.2;
  HttpHeaderList headers = rate_limit_headers(d);
  EXPECT_EQ(header(headers, "x-ratelimit-limit-requests"), "0.5");
  EXPECT_EQ(header(headers, "x-ratelimit-reset-requests"), "1m40.2s");
  EXPECT_EQ(header(headers, "Retry-After"), "101");
  EXPECT_EQ(headers.back().first, "Retry-After");
}

TEST(RateDecision, UnlimitedDimensionsHaveNoHeaders) {
  RateDecision d = sample_decision();
  d.tokens = RateLimitInfo{};
  HttpHeaderList headers = rate_limit_headers(d);
  EXPECT_EQ(headers.size(), 3u);
  EXPECT_EQ(header(headers, "x-ratelimit-limit-tokens"), "<absent>");
  RateDecision bare;
  bare.allowed = true;
  EXPECT_TRUE(rate_limit_headers(bare).empty());
}

TEST(RateDecision, ToStatusNamesTheLimitAndTheWait) {
  EXPECT_TRUE(sample_decision().to_status().is_ok());

  RateDecision requests = sample_decision();
  requests.allowed = false;
  requests.limited_by = RateLimitKind::kRequests;
  requests.retry_after_seconds = 19.2;
  Status s = requests.to_status();
  EXPECT_EQ(s.code(), StatusCode::kRateLimited);
  EXPECT_EQ(http_status(s.code()), 429);
  EXPECT_EQ(s.message(), "rate limit reached for requests on tier 'free': 60 per minute; retry after 20 s");

  RateDecision tokens = requests;
  tokens.limited_by = RateLimitKind::kTokens;
  tokens.reserved_tokens = 5000;
  tokens.tokens.remaining = 1200;
  tokens.retry_after_seconds = 2;
  EXPECT_EQ(tokens.to_status().message(),
            "rate limit reached for tokens on tier 'free': 150000 per minute, 1200 remaining, "
            "5000 requested; retry after 2 s");

  RateDecision concurrency = requests;
  concurrency.limited_by = RateLimitKind::kConcurrency;
  concurrency.in_flight = 2;
  concurrency.max_concurrent = 2;
  concurrency.retry_after_seconds = 1;
  EXPECT_EQ(concurrency.to_status().message(),
            "too many concurrent requests on tier 'free': 2 in flight, limit 2; retry after 1 s");
}

TEST(RateDecision, KindNames) {
  EXPECT_EQ(rate_limit_kind_name(RateLimitKind::kRequests), "requests");
  EXPECT_EQ(rate_limit_kind_name(RateLimitKind::kTokens), "tokens");
  EXPECT_EQ(rate_limit_kind_name(RateLimitKind::kConcurrency), "concurrency");
  EXPECT_EQ(rate_limit_kind_name(RateLimitKind::kNone), "");
}

}  // namespace
}  // namespace chatscale
