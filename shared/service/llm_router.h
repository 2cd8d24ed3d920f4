// The LLM gateway's routing decision: which inference backend gets the next generation. Pure: it reads
// the backends' reported load and returns an order to try them in; the caller starts the first and
// falls through the list on refusal or failure before the first token.
// Policies: least loaded; power of two choices (two random healthy backends, the less loaded first,
// from a caller-supplied random draw); both prefer the caller's region when it has a healthy backend
// with headroom (region affinity). Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ports/inference.h"

namespace chatscale {

enum class RoutingPolicy { kLeastLoaded, kPowerOfTwo };
bool parse_routing_policy(std::string_view name, RoutingPolicy* out);

struct RouteCandidate {
  std::size_t index = 0;  // position in the caller's backend list
  BackendLoad load;
};

// Returns backend indices in the order to try, healthy ones only. `random` is a uniform draw in
// [0, 2^64) used by kPowerOfTwo (pass a value from the runtime's seeded generator).
std::vector<std::size_t> route_order(const std::vector<RouteCandidate>& candidates, std::string_view region,
                                     RoutingPolicy policy, std::uint64_t random);

}  // namespace chatscale
