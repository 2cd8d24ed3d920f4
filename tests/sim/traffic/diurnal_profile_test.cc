// DiurnalProfile on the reference scenario (scenarios/chatgpt-2026.yaml) and on variants of it.
#include "sim/traffic/diurnal_profile.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

constexpr double kDay = DiurnalProfile::kDaySeconds;
constexpr double kHour = 3600.0;

Scenario reference() {
  Result<Scenario> s = load_scenario_file(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/chatgpt-2026.yaml");
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.value();
}

DiurnalProfile build_ok(const Scenario& s) {
  Result<DiurnalProfile> p = DiurnalProfile::build(s);
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  return p.value();
}

TEST(DiurnalProfile, ReferenceDailyIntegralIsUsersTimesPrompts) {
  const Scenario s = reference();
  const DiurnalProfile p = build_ok(s);
  const double expected = 200e6 * 12.5;
  EXPECT_NEAR(p.daily_messages(), expected, 1e-9 * expected);
  EXPECT_NEAR(p.messages_between(0, kDay), expected, 1e-3 * expected);
  EXPECT_NEAR(p.messages_between(3 * kDay + 5, 4 * kDay + 5), expected, 1e-9 * expected);
  EXPECT_NEAR(p.messages_between(-kDay, 2 * kDay), 3 * expected, 1e-9 * expected);
}

TEST(DiurnalProfile, ReferencePeakWindowCarriesTwentyPercent) {
  const DiurnalProfile p = build_ok(reference());
  EXPECT_NEAR(p.peak_window_share(), 0.20, 0.005 * 0.20);
  EXPECT_NEAR(p.busiest_window_start(), 18 * kHour, DiurnalProfile::kBinSeconds);
  EXPECT_NEAR(p.peak_rate(), 69'444.4, 0.01 * 69'444.4);
  EXPECT_NEAR(p.messages_between(18 * kHour, 20 * kHour), 0.2 * 2.5e9, 1e-6 * 2.5e9);
  // The window is a plateau at the peak rate, and nothing else in the day is higher.
  for (double t = 18 * kHour; t < 20 * kHour; t += 60) EXPECT_NEAR(p.rate(t), p.peak_rate(), 1e-6) << t;
  EXPECT_NEAR(p.max_rate(), p.peak_rate(), 1e-6);
}

TEST(DiurnalProfile, ReferenceOffPeakShape) {
  const DiurnalProfile p = build_ok(reference());
  const double peak = p.peak_rate();
  // Continuous at the window edges: the bins just outside are within 0.1% of the plateau.
  EXPECT_GT(p.rate(18 * kHour - 5), 0.999 * peak);
  EXPECT_GT(p.rate(20 * kHour + 5), 0.999 * peak);
  // Trough in the middle of the night (07:00 UTC, 12 h after the window's centre) at rho^2 x peak.
  double trough_t = 0;
  double trough = peak;
  for (double t = 0; t < kDay; t += DiurnalProfile::kBinSeconds) {
    if (p.rate(t) < trough) {
      trough = p.rate(t);
      trough_t = t;
    }
  }
  // The bottom is flat (cos^(2k) with k = 4.2), so the argmin lands anywhere near it.
  EXPECT_NEAR(trough_t, 7 * kHour, 900.0);
  EXPECT_NEAR(p.rate(7 * kHour), trough, 1e-6 * trough);
  const double rho = (0.8 * 2.5e9 / (22 * kHour)) / peak;
  EXPECT_NEAR(trough / (rho * rho * peak), 1.0, 1e-3);
  // Falling monotonically from the window's end to the trough.
  for (double t = 20 * kHour + 60; t < 31 * kHour; t += 60) EXPECT_LE(p.rate(t), p.rate(t - 60) + 1e-9) << t;
}

TEST(DiurnalProfile, UtcRegionsShareTheShapeByUserShare) {
  const Scenario s = reference();
  const DiurnalProfile p = build_ok(s);
  ASSERT_EQ(p.region_count(), s.regions.size());
  for (double t : {0.0, 7 * kHour, 19 * kHour, 23.5 * kHour}) {
    double sum = 0;
    for (std::size_t i = 0; i < s.regions.size(); ++i) {
      EXPECT_NEAR(p.region_rate(i, t), s.regions[i].user_share * p.rate(t), 1e-9 * p.rate(t));
      sum += p.region_rate(i, t);
    }
    EXPECT_NEAR(sum, p.rate(t), 1e-9 * p.rate(t));
    EXPECT_EQ(p.rate(t), p.rate(t + kDay));
    EXPECT_EQ(p.rate(t), p.rate(t - 3 * kDay));
  }
}

TEST(DiurnalProfile, LocalClockSolvesGlobalPeakShare) {
  Scenario s = reference();
  s.traffic.clock = DiurnalClock::kLocal;
  const DiurnalProfile p = build_ok(s);
  EXPECT_NEAR(p.peak_window_share(), 0.20, 1e-6);
  EXPECT_GT(p.local_peak_share(), 0.20);  // regions' peaks do not line up: each must be sharper
  EXPECT_LT(p.local_peak_share(), 1.0);
  EXPECT_NEAR(p.messages_between(0, kDay), 2.5e9, 1e-9 * 2.5e9);
  for (std::size_t i = 0; i < s.regions.size(); ++i) {
    const RegionSpec& r = s.regions[i];
    EXPECT_NEAR(p.region_messages_between(i, 0, kDay), r.user_share * 2.5e9, 1e-9 * 2.5e9) << r.name;
    // Each region's own window is in its local evening: 18:00-20:00 local.
    const double local_window_mid = (19.0 - r.utc_offset_hours) * kHour;
    double region_max = 0;
    for (double t = 0; t < kDay; t += 60) region_max = std::max(region_max, p.region_rate(i, t));
    EXPECT_NEAR(p.region_rate(i, local_window_mid), region_max, 1e-9 * region_max) << r.name;
    EXPECT_NEAR(p.region_messages_between(i, local_window_mid - kHour + 3 * kDay, local_window_mid + kHour + 3 * kDay),
                p.local_peak_share() * r.user_share * 2.5e9, 1e-6 * 2.5e9)
        << r.name;
  }
}

TEST(DiurnalProfile, LocalClockImpossibleTargetNamesTheLargestShare) {
  Scenario s = reference();
  s.traffic.clock = DiurnalClock::kLocal;
  s.traffic.peak_share = 0.30;
  const Result<DiurnalProfile> p = DiurnalProfile::build(s);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  // The best window, 17:00-19:00 UTC, holds all of eu-central's local window and half of eu-west's.
  EXPECT_NE(p.status().message().find("at most 0.225"), std::string::npos) << p.status().message();
  // The largest share itself is reachable.
  s.traffic.peak_share = 0.225;
  EXPECT_NEAR(build_ok(s).peak_window_share(), 0.225, 1e-9);
}

TEST(DiurnalProfile, LocalClockWithOneUtcRegionEqualsUtcClock) {
  Scenario s = reference();
  s.regions.resize(1);
  s.regions[0].utc_offset_hours = 0;
  s.regions[0].user_share = 1.0;
  const DiurnalProfile utc = build_ok(s);
  s.traffic.clock = DiurnalClock::kLocal;
  const DiurnalProfile local = build_ok(s);
  EXPECT_NEAR(local.local_peak_share(), 0.2, 1e-9);
  for (double t = 0; t < kDay; t += 600) EXPECT_NEAR(local.rate(t), utc.rate(t), 1e-6 * utc.peak_rate()) << t;
}

TEST(DiurnalProfile, UnalignedWindowAndOffsetsStillHoldTheTotals) {
  Scenario s = reference();
  s.traffic.peak_start_hour = 18.0013;
  s.traffic.peak_hours = 1.9991;
  DiurnalProfile p = build_ok(s);
  EXPECT_NEAR(p.messages_between(0, kDay), 2.5e9, 1e-9 * 2.5e9);
  EXPECT_NEAR(p.peak_window_share(), 0.2, 0.005 * 0.2);
  s.traffic.clock = DiurnalClock::kLocal;
  s.regions[4].utc_offset_hours = 5.1234;
  p = build_ok(s);
  EXPECT_NEAR(p.peak_window_share(), 0.2, 1e-6);
  EXPECT_NEAR(p.messages_between(0, kDay), 2.5e9, 1e-9 * 2.5e9);
}

TEST(DiurnalProfile, HourlyWeightsUtc) {
  Scenario s = reference();
  s.traffic.hourly_weights.clear();
  double sum = 0;
  for (int h = 0; h < 24; ++h) {
    s.traffic.hourly_weights.push_back(h + 1.0);
    sum += h + 1.0;
  }
  const DiurnalProfile p = build_ok(s);
  for (int h = 0; h < 24; ++h) {
    const double expected = 2.5e9 * (h + 1.0) / sum / kHour;
    EXPECT_NEAR(p.rate(h * kHour + 1), expected, 1e-9 * expected) << h;
    EXPECT_NEAR(p.rate(h * kHour + kHour - 1), expected, 1e-9 * expected) << h;
  }
  EXPECT_NEAR(p.messages_between(0, kDay), 2.5e9, 1e-9 * 2.5e9);
  // The busiest 2 h are 22:00-24:00: (23 + 24) / 300.
  EXPECT_NEAR(p.peak_window_share(), 47.0 / 300.0, 1e-9);
  EXPECT_NEAR(p.busiest_window_start(), 22 * kHour, 1e-6);
  EXPECT_EQ(p.local_peak_share(), 0.0);
}

TEST(DiurnalProfile, HourlyWeightsLocal) {
  Scenario s = reference();
  s.regions.resize(2);
  s.regions[0].utc_offset_hours = 0;
  s.regions[0].user_share = 0.6;
  s.regions[1].utc_offset_hours = 5.5;
  s.regions[1].user_share = 0.4;
  s.traffic.clock = DiurnalClock::kLocal;
  s.traffic.hourly_weights.assign(24, 0.0);
  s.traffic.hourly_weights[12] = 3.0;  // everyone writes at noon, local time
  const DiurnalProfile p = build_ok(s);
  EXPECT_NEAR(p.rate(12.5 * kHour), 0.6 * 2.5e9 / kHour, 1e-3);
  EXPECT_NEAR(p.rate(6.75 * kHour), 0.4 * 2.5e9 / kHour, 1e-3);  // 12:15 in UTC+5:30
  EXPECT_EQ(p.rate(6.25 * kHour), 0.0);
  EXPECT_EQ(p.region_rate(0, 6.75 * kHour), 0.0);
  EXPECT_EQ(p.rate(3 * kHour), 0.0);
  EXPECT_NEAR(p.peak_window_share(), 0.6, 1e-9);
  EXPECT_NEAR(p.max_rate(), 0.6 * 2.5e9 / kHour, 1e-3);
}

TEST(DiurnalProfile, FlatAndAllInWindowExtremes) {
  Scenario s = reference();
  s.traffic.peak_share = 2.0 / 24.0;
  DiurnalProfile p = build_ok(s);
  EXPECT_NEAR(p.max_rate(), 2.5e9 / kDay, 1e-6);
  EXPECT_NEAR(p.rate(7 * kHour), 2.5e9 / kDay, 1e-6);
  s.traffic.peak_share = 1.0;
  p = build_ok(s);
  EXPECT_EQ(p.rate(7 * kHour), 0.0);
  EXPECT_NEAR(p.messages_between(18 * kHour, 20 * kHour), 2.5e9, 1e-9 * 2.5e9);
}

TEST(DiurnalProfile, RejectsInconsistentTraffic) {
  const Scenario base = reference();
  auto rejects = [](const Scenario& s, const std::string& needle) {
    const Result<DiurnalProfile> p = DiurnalProfile::build(s);
    ASSERT_FALSE(p.is_ok()) << needle;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(needle), std::string::npos) << p.status().message();
  };
  Scenario s = base;
  s.traffic.peak_share = 0.05;  // below 2 / 24: quieter than the average 2 hours
  rejects(s, "peak_share");
  s = base;
  s.traffic.peak_hours = 24;
  rejects(s, "peak_hours");
  s = base;
  s.regions.clear();
  rejects(s, "region");
  s = base;
  for (RegionSpec& r : s.regions) r.user_share = 0;
  rejects(s, "user_share");
  s = base;
  s.users.daily_active = 0;
  rejects(s, "daily_active");
  s = base;
  s.traffic.hourly_weights.assign(23, 1.0);
  rejects(s, "24 values");
  s.traffic.hourly_weights.assign(24, 0.0);
  rejects(s, "not all be 0");
  s.traffic.hourly_weights[3] = -1;
  rejects(s, ">= 0");
}

}  // namespace
}  // namespace chatscale::sim
