#include "prod/auth/auth_limiter.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

namespace chatscale::auth {
namespace {

constexpr const char* kLoginTier = "auth-login-per-ip";
constexpr const char* kRegisterTier = "auth-register-per-ip";
constexpr const char* kFailureTier = "auth-login-failures-per-account";

std::vector<Tier> auth_tiers(const AuthLimits& l) {
  // Requests for the per-address limits; tokens for the failures (reserved, then refunded on success).
  return {Tier{kLoginTier, std::max(0.0, l.login_per_minute), 0, 0, 0, 0, 0},
          Tier{kRegisterTier, std::max(0.0, l.register_per_minute), 0, 0, 0, 0, 0},
          Tier{kFailureTier, 0, std::max(0.0, l.login_failures_per_minute), 0, 0, 0, 0}};
}

RateDecision allowed() {
  RateDecision d;
  d.allowed = true;
  return d;
}

// The e-mail's store key part: BLAKE2b of the lower-cased address, hex (the store never sees it).
std::string account_key(const std::string& email) {
  std::string lower = email;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(lower.data()), lower.size(),
                     nullptr, 0);
  static const char* kHex = "0123456789abcdef";
  std::string out = "acct:";
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace

AuthLimiter::AuthLimiter(RateLimitStore& store, AuthLimits limits)
    : limiter_(store, auth_tiers(limits)), limits_(std::move(limits)) {}

Result<RateDecision> AuthLimiter::take_login(const std::string& address, double now) {
  if (limits_.login_per_minute <= 0) return allowed();
  return limiter_.acquire("ip-login:" + address, kLoginTier, 0, now);
}

Result<RateDecision> AuthLimiter::take_register(const std::string& address, double now) {
  if (limits_.register_per_minute <= 0) return allowed();
  return limiter_.acquire("ip-register:" + address, kRegisterTier, 0, now);
}

Result<RateDecision> AuthLimiter::reserve_failure(const std::string& email, double now) {
  if (limits_.login_failures_per_minute <= 0) return allowed();
  return limiter_.acquire(account_key(email), kFailureTier, 1, now);
}

Status AuthLimiter::settle(const std::string& email, bool failed, double now) {
  if (limits_.login_failures_per_minute <= 0 || failed) return Status::ok();
  return limiter_.reconcile(account_key(email), kFailureTier, 1, 0, now);
}

Status AuthLimiter::refusal(const RateDecision& decision, const char* what) {
  const auto seconds = static_cast<long long>(std::ceil(std::max(decision.retry_after_seconds, 1.0)));
  return rate_limited(std::string("too many ") + what + "; retry after " + std::to_string(seconds) + " s");
}

}  // namespace chatscale::auth
