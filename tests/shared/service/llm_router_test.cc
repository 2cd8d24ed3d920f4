#include "service/llm_router.h"

#include <gtest/gtest.h>

#include <map>

namespace chatscale {
namespace {

RouteCandidate backend(std::size_t index, std::int64_t in_flight, std::int64_t capacity, std::string region = "",
                       bool healthy = true) {
  return {index, BackendLoad{healthy, in_flight, capacity, std::move(region)}};
}

TEST(LlmRouter, LeastLoadedFirstAndUnhealthySkipped) {
  std::vector<RouteCandidate> c = {backend(0, 8, 10), backend(1, 2, 10), backend(2, 0, 10, "", false),
                                   backend(3, 5, 10)};
  EXPECT_EQ(route_order(c, "", RoutingPolicy::kLeastLoaded, 0), (std::vector<std::size_t>{1, 3, 0}));
}

TEST(LlmRouter, UtilisationComparesBackendsOfDifferentSizes) {
  std::vector<RouteCandidate> c = {backend(0, 10, 100), backend(1, 5, 10)};
  EXPECT_EQ(route_order(c, "", RoutingPolicy::kLeastLoaded, 0).front(), 0u);
}

TEST(LlmRouter, RegionAffinityWhileThereIsHeadroom) {
  std::vector<RouteCandidate> c = {backend(0, 0, 10, "us"), backend(1, 5, 10, "eu")};
  EXPECT_EQ(route_order(c, "eu", RoutingPolicy::kLeastLoaded, 0).front(), 1u);
  c[1].load.in_flight = 10;  // full: spill to the idle remote one
  EXPECT_EQ(route_order(c, "eu", RoutingPolicy::kLeastLoaded, 0).front(), 0u);
}

TEST(LlmRouter, PowerOfTwoSpreadsLoadAndPrefersTheBetterOfTwo) {
  std::vector<RouteCandidate> c;
  for (std::size_t i = 0; i < 8; ++i) c.push_back(backend(i, static_cast<std::int64_t>(i), 100));
  std::map<std::size_t, int> firsts;
  std::uint64_t draw = 12345;
  for (int i = 0; i < 8000; ++i) {
    draw = draw * 6364136223846793005ULL + 1442695040888963407ULL;
    auto order = route_order(c, "", RoutingPolicy::kPowerOfTwo, draw);
    ASSERT_EQ(order.size(), 8u);
    ++firsts[order.front()];
  }
  EXPECT_EQ(firsts.count(7), 0u) << "the most loaded never wins a pair";
  EXPECT_GT(firsts[0], firsts[6]);
  EXPECT_GT(firsts.size(), 5u) << "load spreads beyond the single least loaded backend";
}

TEST(LlmRouter, PolicyNames) {
  RoutingPolicy p;
  EXPECT_TRUE(parse_routing_policy("power_of_two", &p));
  EXPECT_EQ(p, RoutingPolicy::kPowerOfTwo);
  EXPECT_FALSE(parse_routing_policy("random", &p));
}

}  // namespace
}  // namespace chatscale
