#include "capacity/arithmetic.h"

#include <gtest/gtest.h>

#include <map>

namespace chatscale {
namespace {

std::map<std::string, CapacityFigure> figures_of(const Scenario& s) {
  std::map<std::string, CapacityFigure> out;
  for (auto& f : capacity_figures(s)) out[f.key] = f;
  return out;
}

Scenario reference() {
  auto s = load_scenario_file(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/chatgpt-2026.yaml");
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? *s : Scenario{};
}

TEST(CapacityArithmetic, ReferenceTrafficAndStorageFigures) {
  auto f = figures_of(reference());
  EXPECT_NEAR(f["daily_messages"].value, 2.5e9, 1);
  EXPECT_NEAR(f["peak_messages_per_s"].value, 69'444.4, 0.1);
  EXPECT_NEAR(f["storage_bytes_per_day"].value, 1.5e12, 1.5e12 * 0.001);
  EXPECT_NEAR(f["storage_bytes_per_user_per_day"].value, 7'500, 1);
  EXPECT_NEAR(f["storage_bytes_per_year"].value, 547.5e12, 1e9);
  EXPECT_NEAR(f["profile_bytes"].value, 1e12, 1);
  EXPECT_NEAR(f["conversation_metadata_bytes"].value, 5e12, 1);
  EXPECT_EQ(verdict(f["peak_messages_per_s"].value, *f["peak_messages_per_s"].claimed), "holds");
}

TEST(CapacityArithmetic, StreamsAndEgressFollowLittlesLaw) {
  auto s = reference();
  auto f = figures_of(s);
  double peak = s.traffic.peak_messages_per_s(s.users);
  EXPECT_NEAR(f["max_concurrent_streams"].value, peak * s.traffic.stream_duration_s, 1);
  EXPECT_NEAR(f["peak_egress_gbps"].value, peak * s.traffic.stream_bytes * 8 / 1e9, 1e-9);
  EXPECT_NE(f["max_concurrent_streams"].arithmetic.find("Little's law"), std::string::npos);
}

TEST(CapacityArithmetic, DatabaseFigures) {
  auto s = reference();
  auto f = figures_of(s);
  double peak = s.traffic.peak_messages_per_s(s.users);
  double w = s.database.writes_per_prompt.total(), r = s.database.reads_per_prompt.total();
  EXPECT_NEAR(f["db_primary_peak_tps"].value, peak * w, 1e-6);
  EXPECT_NEAR(f["db_read_fraction"].value, r / (r + w), 1e-12);
}

TEST(CapacityArithmetic, CostFiguresComeFromTheCostModel) {
  auto f = figures_of(reference());
  ASSERT_TRUE(f.count("self_hosted_usd_per_month"));
  EXPECT_GT(f["self_hosted_usd_per_month"].value, 0);
  EXPECT_GT(f["api_usd_per_month"].value, 0);
  EXPECT_NE(f["self_hosted_usd_per_month"].arithmetic.find("GPUs $"), std::string::npos);
}

TEST(CapacityArithmetic, Formatting) {
  EXPECT_EQ(format_number(69444.44), "69,444");
  EXPECT_EQ(format_number(1234567.891, 2), "1,234,567.89");
  EXPECT_EQ(format_number(-1500), "-1,500");
  EXPECT_EQ(format_number(0.5, 1), "0.5");
  EXPECT_EQ(format_bytes(1.5e12), "1.50 TB");
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(verdict(6.0, 6.0), "holds");
  EXPECT_EQ(verdict(0.42, 6.0), "breaks (x0.07)");
  EXPECT_EQ(verdict(20, 1), "breaks (x20)");
}

TEST(CapacityArithmetic, PlanTextCarriesArithmeticAndVerdicts) {
  std::string text = format_capacity_plan(reference());
  EXPECT_NE(text.find("Peak messages per second: 69,444"), std::string::npos) << text;
  EXPECT_NE(text.find("reference 69,444: holds"), std::string::npos);
  EXPECT_NE(text.find("Monthly cost"), std::string::npos);
}

}  // namespace
}  // namespace chatscale
