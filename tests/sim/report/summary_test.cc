#include "sim/report/summary.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

Summary example() {
  Summary s;
  s.scenario = "chatgpt-2026";
  s.sample_factor = 0.001;
  s.seed = 42;
  s.simulated_seconds = 86'400;
  s.wall_seconds = 312.5;
  s.events = 2'500'000;
  s.messages_total = 2.5e9;
  s.peak_messages_per_s = 69'444.4;
  s.ttft_p50_s = 0.41;
  s.ttft_p99_s = 1.7;
  s.e2e_p50_s = 9.5;
  s.e2e_p99_s = 31;
  s.max_concurrent_streams = 812'000;
  s.peak_egress_gbps = 0.33;
  s.db_primary_peak_tps = 41'000;
  s.db_replica_lag_p99_s = std::nan("");
  s.db_read_fraction = 0.9;
  s.rate_limited_fraction = 0.002;
  s.moderated_fraction = 0.0005;
  s.messages_lost = 0;
  s.availability = 0.9995;
  s.storage_bytes_per_day = 1.5e12;
  s.extra = {{"cost_dollars_total", 1.25e6}, {"a_figure", 1.0 / 3}};
  return s;
}

void expect_same(const Summary& a, const Summary& b) {
  EXPECT_EQ(summary_to_json(a), summary_to_json(b));
  EXPECT_EQ(a.scenario, b.scenario);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.peak_messages_per_s, b.peak_messages_per_s);
  EXPECT_EQ(std::isnan(a.db_replica_lag_p99_s), std::isnan(b.db_replica_lag_p99_s));
  EXPECT_EQ(a.extra, b.extra);
}

TEST(SummaryTest, JsonRoundTripIsExact) {
  Summary s = example();
  std::string json = summary_to_json(s);
  auto back = parse_summary_json(json);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  expect_same(s, *back);
  EXPECT_EQ(back->extra.at("a_figure"), 1.0 / 3);  // shortest round-trip digits lose nothing
  EXPECT_TRUE(std::isnan(back->db_replica_lag_p99_s));
}

TEST(SummaryTest, KeyOrderAndFormattingAreFixed) {
  std::string json = summary_to_json(example());
  EXPECT_EQ(json.rfind("{\n  \"scenario\": \"chatgpt-2026\",\n  \"sample_factor\": 0.001,\n  \"seed\": 42,", 0), 0u);
  EXPECT_LT(json.find("\"messages_total\""), json.find("\"peak_messages_per_s\""));
  EXPECT_LT(json.find("\"storage_bytes_per_day\""), json.find("\"extra\""));
  EXPECT_LT(json.find("\"a_figure\""), json.find("\"cost_dollars_total\""));
  EXPECT_NE(json.find("\"db_replica_lag_p99_s\": null"), std::string::npos);
  EXPECT_NE(json.find("\"events\": 2500000,"), std::string::npos);
  EXPECT_EQ(json.back(), '\n');
}

TEST(SummaryTest, FileRoundTripAndErrors) {
  auto path = std::filesystem::path(::testing::TempDir()) / ("summary_" + std::to_string(::getpid()) + ".json");
  ASSERT_TRUE(write_summary_json(path.string(), example()).is_ok());
  auto back = read_summary_json(path.string());
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  expect_same(example(), *back);
  std::filesystem::remove(path);
  EXPECT_EQ(read_summary_json(path.string()).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(parse_summary_json("{").is_ok());
  EXPECT_FALSE(parse_summary_json("[]").is_ok());
  auto missing = parse_summary_json(R"({"scenario": "x", "sample_factor": 1, "seed": 1})");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("simulated_seconds"), std::string::npos);
  std::string bad = summary_to_json(example());
  bad.replace(bad.find("\"seed\": 42"), 10, "\"seed\": -4");
  EXPECT_FALSE(parse_summary_json(bad).is_ok());
}

}  // namespace
}  // namespace chatscale::sim
