#include "sim/runner/service_tier.h"

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

Scenario two_regions() {
  Scenario s;
  s.regions = {RegionSpec{"a", "g", 0, 0.5, 2, 0}, RegionSpec{"b", "g", 0, 0.5, 1, 0}};
  s.service.cores_per_host = 4;
  s.service.cpu_ms_per_request = 10;
  s.service.max_streams_per_host = 100;
  s.database.statement_timeout_s = 5;
  return s;
}

TEST(ServiceTier, IdleRequestCostsItsCpuTime) {
  ServiceTier tier(two_regions(), 1.0, 1);
  auto t = tier.admit(0, 0.0);
  ASSERT_TRUE(t.is_ok());
  EXPECT_NEAR(*t, 0.010, 1e-9);
}

TEST(ServiceTier, StreamCapRefuses) {
  ServiceTier tier(two_regions(), 1.0, 1);
  for (int i = 0; i < 100; ++i) tier.stream_opened(1);  // region b: 1 host x 100 streams
  EXPECT_EQ(tier.admit(1, 0.0).status().code(), StatusCode::kUnavailable);
  tier.stream_closed(1);
  EXPECT_TRUE(tier.admit(1, 0.0).is_ok());
}

TEST(ServiceTier, HostsDownRefuseAndHalfDownDoublesTheLoad) {
  ServiceTier tier(two_regions(), 1.0, 1);
  tier.set_hosts_down(0, 1.0);
  EXPECT_EQ(tier.admit(0, 0.0).status().code(), StatusCode::kUnavailable);
  tier.set_hosts_down(0, 0.5);
  // 400 requests/s x 10 ms on 8 cores is 50% busy; with half the hosts down, 100%: waits appear.
  double waited = 0;
  for (int i = 1; i <= 40'000; ++i) {
    auto t = tier.admit(0, i / 400.0);
    if (t.is_ok()) waited += *t - 0.010;
  }
  EXPECT_GT(tier.utilisation(0, 100.0), 0.9);
  EXPECT_GT(waited / 40'000, 0.001);
}

}  // namespace
}  // namespace chatscale::sim
