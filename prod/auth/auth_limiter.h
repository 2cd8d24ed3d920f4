// Limits on the auth routes, so password guessing and mass registration are bounded: login attempts
// and registrations per client address (client_address.h) and failed logins per account. Built on
// the shared rate limiter (shared/ratelimit: GCRA, one atomic store update per decision) over the
// same RateLimitStore as the per-user limits, so with Redis every `serve` instance shares them.
//
//   per address: login_per_minute (every attempt counts), register_per_minute;
//   per account: login_failures_per_minute (a failed password costs one; a success refunds the
//                attempt), keyed by a hash of the lower-cased e-mail (no e-mail in the store), and
//                applied to unknown e-mails alike so the answer does not tell which accounts exist.
// A limit of 0 or less disables it. Burst: one minute's allowance, then one per 60/N seconds.
//
// Ownership: borrows the store (it must outlive the limiter). Thread-safety: every method from any
// task or thread at once. Failure: a store failure is returned (the caller answers 503); a refused
// attempt is a decision with allowed false and retry_after_seconds, never an error.
#pragma once

#include <string>

#include "core/status.h"
#include "ports/stores.h"
#include "prod/auth/client_address.h"
#include "ratelimit/rate_limiter.h"

namespace chatscale::auth {

struct AuthLimits {
  double login_per_minute = 10;           // per client address
  double register_per_minute = 5;         // per client address
  double login_failures_per_minute = 5;   // per account (e-mail)
  CidrList trusted_proxies;               // peers whose X-Forwarded-For is believed
};

class AuthLimiter {
 public:
  AuthLimiter(RateLimitStore& store, AuthLimits limits);

  const AuthLimits& limits() const { return limits_; }
  // One login attempt from `address`.
  Result<RateDecision> take_login(const std::string& address, double now);
  // One registration from `address`.
  Result<RateDecision> take_register(const std::string& address, double now);
  // Before verifying a password for `email`: reserves one failure. Allowed unless the account has
  // used up its failures; then settle() with the verification's result.
  Result<RateDecision> reserve_failure(const std::string& email, double now);
  Status settle(const std::string& email, bool failed, double now);

  // A refusal's message for the client (no e-mail, no address).
  static Status refusal(const RateDecision& decision, const char* what);

 private:
  RateLimiter limiter_;
  AuthLimits limits_;
};

}  // namespace chatscale::auth
