// A service tier's limits (free, plus, pro, ...). Plain data: parsed from YAML by shared/scenario,
// enforced by shared/ratelimit.
#pragma once

#include <cstdint>
#include <string>

namespace chatscale {

struct Tier {
  std::string name;
  double requests_per_minute = 0;   // sustained request rate; also the burst size
  double tokens_per_minute = 0;     // prompt + completion tokens, reserved up front
  std::int64_t max_concurrent = 0;  // requests in flight per user; 0 = unlimited
  std::int64_t max_output_tokens = 0;  // cap on max_tokens per request; 0 = model default
  double share = 0;                 // fraction of users on this tier (simulation traffic mix)
  int priority = 0;                 // scheduling priority, higher first
};

}  // namespace chatscale
