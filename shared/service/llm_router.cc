#include "service/llm_router.h"

#include <algorithm>

namespace chatscale {
namespace {

// Utilisation when capacity is known, else the raw in-flight count scaled to compare across backends.
double pressure(const BackendLoad& load) {
  if (load.capacity > 0) return static_cast<double>(load.in_flight) / static_cast<double>(load.capacity);
  return static_cast<double>(load.in_flight) * 1e-6;
}

bool has_headroom(const BackendLoad& load) { return load.capacity <= 0 || load.in_flight < load.capacity; }

}  // namespace

bool parse_routing_policy(std::string_view name, RoutingPolicy* out) {
  if (name == "least_loaded") *out = RoutingPolicy::kLeastLoaded;
  else if (name == "power_of_two") *out = RoutingPolicy::kPowerOfTwo;
  else return false;
  return true;
}

std::vector<std::size_t> route_order(const std::vector<RouteCandidate>& candidates, std::string_view region,
                                     RoutingPolicy policy, std::uint64_t random) {
  std::vector<RouteCandidate> healthy;
  for (const auto& c : candidates)
    if (c.load.healthy) healthy.push_back(c);
  // Local backends with headroom first, then by pressure, then by index for determinism.
  auto better = [&](const RouteCandidate& a, const RouteCandidate& b) {
    bool a_local = !region.empty() && a.load.region == region && has_headroom(a.load);
    bool b_local = !region.empty() && b.load.region == region && has_headroom(b.load);
    if (a_local != b_local) return a_local;
    double pa = pressure(a.load), pb = pressure(b.load);
    if (pa != pb) return pa < pb;
    return a.index < b.index;
  };
  std::sort(healthy.begin(), healthy.end(), better);
  if (policy == RoutingPolicy::kPowerOfTwo && healthy.size() > 2) {
    // Two distinct random picks; the better of them goes first, the rest keep least-loaded order.
    std::size_t n = healthy.size();
    std::size_t i = random % n;
    std::size_t j = (i + 1 + (random / n) % (n - 1)) % n;
    std::size_t first = better(healthy[i], healthy[j]) ? i : j;
    std::rotate(healthy.begin(), healthy.begin() + static_cast<std::ptrdiff_t>(first),
                healthy.begin() + static_cast<std::ptrdiff_t>(first) + 1);
  }
  std::vector<std::size_t> order;
  order.reserve(healthy.size());
  for (const auto& c : healthy) order.push_back(c.index);
  return order;
}

}  // namespace chatscale
