#include "scenario/scenario.h"

#include <gtest/gtest.h>

namespace chatscale {
namespace {

const std::string kSource = CHATSCALE_SOURCE_DIR;

Scenario load_ok(const std::string& relative) {
  Result<Scenario> s = load_scenario_file(kSource + "/" + relative);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? s.value() : Scenario{};
}

TEST(Scenario, ReferenceLoadsWithMissionFigures) {
  const Scenario s = load_ok("scenarios/chatgpt-2026.yaml");
  EXPECT_EQ(s.name, "chatgpt-2026");
  EXPECT_EQ(s.users.weekly_active, 1'000'000'000);
  EXPECT_EQ(s.users.daily_active, 200'000'000);
  EXPECT_DOUBLE_EQ(s.users.prompts_per_user_per_day, 12.5);
  EXPECT_DOUBLE_EQ(s.traffic.daily_messages(s.users), 2.5e9);
  // MISSION: 20% of 2.5B in 2 hours = 69,444 messages/s.
  EXPECT_NEAR(s.traffic.peak_messages_per_s(s.users), 69'444.44, 0.01);
  EXPECT_DOUBLE_EQ(s.traffic.user_message.mean_bytes, 100);
  EXPECT_DOUBLE_EQ(s.traffic.assistant_response.mean_bytes, 500);
  EXPECT_EQ(s.traffic.user_message.distribution, SizeDistribution::kLognormal);
  EXPECT_DOUBLE_EQ(s.traffic.assistant_response.sigma, 0.8);
  EXPECT_DOUBLE_EQ(s.traffic.stream_bytes, 750);
  EXPECT_DOUBLE_EQ(s.traffic.stream_duration_s, 20);
  EXPECT_EQ(s.traffic.arrivals, ArrivalProcess::kPoisson);
  EXPECT_EQ(s.traffic.clock, DiurnalClock::kUtc);
}

TEST(Scenario, ReferenceRegionsDatabaseAndNetwork) {
  const Scenario s = load_ok("scenarios/chatgpt-2026.yaml");
  ASSERT_EQ(s.regions.size(), 6u);
  int americas = 0, europe = 0, apac = 0;
  double share = 0;
  for (const RegionSpec& r : s.regions) {
    americas += r.group == "americas";
    europe += r.group == "europe";
    apac += r.group == "apac";
    share += r.user_share;
  }
  EXPECT_EQ(americas, 2);
  EXPECT_EQ(europe, 2);
  EXPECT_EQ(apac, 2);
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_EQ(s.total_read_replicas(), 20);
  EXPECT_EQ(s.total_service_hosts(), 600);
  EXPECT_DOUBLE_EQ(s.regions[4].utc_offset_hours, 5.5);
  EXPECT_EQ(s.database.primary_region, "us-east");
  EXPECT_DOUBLE_EQ(s.database.reads_per_prompt.total(), 6);
  EXPECT_DOUBLE_EQ(s.database.writes_per_prompt.total(), 5);
  EXPECT_DOUBLE_EQ(s.database.writes_per_prompt.messages, 2);
  EXPECT_DOUBLE_EQ(s.database.primary_max_transactions_per_s, 400'000);
  ASSERT_EQ(s.network.latency_ms.size(), 6u);
  EXPECT_DOUBLE_EQ(s.latency_ms(0, 2), 38);
  EXPECT_DOUBLE_EQ(s.latency_ms(5, 4), 65);
  EXPECT_DOUBLE_EQ(s.bandwidth_gbps(0, 1), 100);
  EXPECT_DOUBLE_EQ(s.bandwidth_gbps(3, 3), 400);
}

TEST(Scenario, ReferenceGpuTiersCostsAndRun) {
  const Scenario s = load_ok("scenarios/chatgpt-2026.yaml");
  EXPECT_EQ(s.gpu.fleet.gpus, 17'500);
  EXPECT_EQ(s.gpu.fleet.gpus_per_server, 8);
  EXPECT_EQ(s.gpu.model.name, "llama3-70b");
  EXPECT_EQ(s.gpu.model.tensor_parallel, 8);
  EXPECT_EQ(s.gpu.model.layers, 80);
  ASSERT_EQ(s.gpu.fleet.clusters.size(), 4u);
  EXPECT_EQ(s.gpu.fleet.clusters[2].region, "eu-central");
  EXPECT_DOUBLE_EQ(s.gpu.fleet.clusters[2].gpu_share, 0.25);
  ASSERT_EQ(s.tiers.size(), 3u);
  const Tier& plus = s.tiers[1];
  EXPECT_EQ(plus.name, "plus");
  EXPECT_DOUBLE_EQ(plus.share, 0.045);
  EXPECT_DOUBLE_EQ(plus.requests_per_minute, 30);
  EXPECT_DOUBLE_EQ(plus.tokens_per_minute, 100'000);
  EXPECT_EQ(plus.max_concurrent, 3);
  EXPECT_EQ(plus.max_output_tokens, 4096);
  EXPECT_EQ(plus.priority, 1);
  EXPECT_EQ(s.costs.gpu_provider, "reference_blended");
  EXPECT_DOUBLE_EQ(s.costs.gpu_usd_per_hour.at("reference_blended"), 4.10);
  EXPECT_EQ(s.costs.gpu_usd_per_hour.size(), 6u);
  EXPECT_DOUBLE_EQ(s.costs.upfront_usd, 525e6);
  EXPECT_DOUBLE_EQ(s.availability.target, 0.999);
  EXPECT_DOUBLE_EQ(s.availability.ttft_target_s, 2);
  EXPECT_TRUE(s.availability.failures.empty());
  EXPECT_DOUBLE_EQ(s.simulation.duration_s, 8400);
  EXPECT_DOUBLE_EQ(s.simulation.warmup_s, 1200);
  EXPECT_EQ(s.simulation.seed, 2026u);
  EXPECT_DOUBLE_EQ(s.moderation.input_flag_rate, 0.005);
}

TEST(Scenario, SmallScenarioLoads) {
  const Scenario s = load_ok("scenarios/small.yaml");
  EXPECT_EQ(s.users.daily_active, 100'000);
  ASSERT_EQ(s.regions.size(), 2u);
  EXPECT_DOUBLE_EQ(s.latency_ms(0, 1), 38);
  EXPECT_DOUBLE_EQ(s.bandwidth_gbps(1, 0), 10);
  EXPECT_EQ(s.gpu.fleet.gpus, 8);
  EXPECT_EQ(s.gpu.fleet.clusters[1].provider, "lambda");
  ASSERT_EQ(s.availability.failures.size(), 1u);
  const FailureSpec& f = s.availability.failures[0];
  EXPECT_EQ(f.kind, FailureKind::kReplicaDown);
  EXPECT_EQ(f.target, "eu-west");
  EXPECT_DOUBLE_EQ(f.at_s, 1800);
  EXPECT_DOUBLE_EQ(f.duration_s, 300);
  EXPECT_DOUBLE_EQ(f.fraction, 1.0);
  EXPECT_EQ(s.simulation.seed, 42u);
  EXPECT_DOUBLE_EQ(s.simulation.sample_factor, 1.0);
  EXPECT_EQ(s.traffic.max_tokens, 512);
  EXPECT_EQ(s.gpu.model.hidden, 4096);  // default shape: llama3-8b
}

constexpr const char* kMinimal =
    "name: minimal\n"
    "regions:\n"
    "  - {name: west, group: g, user_share: 0.5}\n"
    "  - {name: east, group: g, user_share: 0.3}\n"
    "  - {name: far, user_share: 0.2}\n"
    "rate_limits:\n"
    "  tiers:\n"
    "    - {name: free, requests_per_minute: 10, tokens_per_minute: 1000, share: 1}\n";

TEST(Scenario, DefaultsAreMissionFiguresAndDerivedOnes) {
  Result<Scenario> r = parse_scenario(kMinimal, "minimal.yaml");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Scenario& s = r.value();
  EXPECT_EQ(s.users.daily_active, 200'000'000);
  EXPECT_DOUBLE_EQ(s.traffic.peak_share, 0.2);
  EXPECT_DOUBLE_EQ(s.traffic.peak_hours, 2);
  EXPECT_EQ(s.gpu.fleet.gpus, 17'500);
  EXPECT_EQ(s.database.primary_region, "west");  // the first region
  ASSERT_EQ(s.gpu.fleet.clusters.size(), 1u);     // one default cluster there
  EXPECT_EQ(s.gpu.fleet.clusters[0].name, "default");
  EXPECT_EQ(s.gpu.fleet.clusters[0].region, "west");
  EXPECT_DOUBLE_EQ(s.gpu.fleet.clusters[0].gpu_share, 1.0);
  EXPECT_EQ(s.regions[2].service_hosts, 1);
  EXPECT_EQ(s.tiers[0].max_concurrent, 0);
  // Group model: same region, same group, other group.
  EXPECT_DOUBLE_EQ(s.latency_ms(0, 0), 1);
  EXPECT_DOUBLE_EQ(s.latency_ms(0, 1), 30);
  EXPECT_DOUBLE_EQ(s.latency_ms(1, 2), 70);
  EXPECT_EQ(s.region_index("east"), 1);
  EXPECT_EQ(s.region_index("nowhere"), -1);
}

TEST(Scenario, HourSharesOfThePeakModel) {
  TrafficSpec t;  // 20% in 18:00-20:00
  std::vector<double> shares = t.hour_shares();
  ASSERT_EQ(shares.size(), 24u);
  EXPECT_DOUBLE_EQ(shares[18], 0.1);
  EXPECT_DOUBLE_EQ(shares[19], 0.1);
  EXPECT_DOUBLE_EQ(shares[3], 0.8 / 22);
  double sum = 0;
  for (double x : shares) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // The peak hour carries MISSION's 69,444 messages/s: 2.5e9 x 0.1 / 3600.
  EXPECT_NEAR(2.5e9 * shares[18] / 3600, t.peak_messages_per_s(UsersSpec{}), 1e-6);

  t.peak_start_hour = 23.5;  // wraps past midnight, half hours pro rata
  shares = t.hour_shares();
  EXPECT_DOUBLE_EQ(shares[23], 0.05 + 0.5 * 0.8 / 22);
  EXPECT_DOUBLE_EQ(shares[0], 0.1);
  EXPECT_DOUBLE_EQ(shares[1], 0.05 + 0.5 * 0.8 / 22);

  t.hourly_weights.assign(24, 1.0);
  t.hourly_weights[0] = 23.0;
  shares = t.hour_shares();
  EXPECT_DOUBLE_EQ(shares[0], 0.5);
  EXPECT_DOUBLE_EQ(shares[1], 1.0 / 46);
}

TEST(Scenario, ModelArithmetic) {
  ModelSpec m;  // llama3-8b
  EXPECT_NEAR(m.parameters() / 1e9, 8.03, 0.01);
  EXPECT_NEAR(m.weight_bytes_per_gpu() / 1e9, 16.06, 0.01);
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token_per_gpu(), 2.0 * 32 * 8 * 128 * 2);  // 128 KiB
  const Scenario ref = load_ok("scenarios/chatgpt-2026.yaml");
  EXPECT_NEAR(ref.gpu.model.parameters() / 1e9, 70.55, 0.01);
  EXPECT_DOUBLE_EQ(ref.gpu.model.kv_bytes_per_token_per_gpu(), 2.0 * 80 * 1 * 128 * 2);  // 8 KV heads / TP8
}

TEST(Scenario, CalibrationProfileResolvesAgainstTheScenarioFile) {
  Result<Scenario> r = parse_scenario(std::string(kMinimal) + "gpu: {calibration_profile: ../calibration/h100.json}\n",
                                      "scenarios/x.yaml");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->calibration_profile_path(), "calibration/h100.json");
  r = parse_scenario(std::string(kMinimal) + "gpu: {calibration_profile: /abs/p.json}\n", "scenarios/x.yaml");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->calibration_profile_path(), "/abs/p.json");
  r = parse_scenario(kMinimal, "scenarios/x.yaml");
  EXPECT_EQ(r->calibration_profile_path(), "");
}

TEST(Scenario, MissingFileIsNotFound) {
  Result<Scenario> r = load_scenario_file("no/such/file.yaml");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "no/such/file.yaml: cannot open file");
}

TEST(Tiers, StandaloneFileUsesTheSameReader) {
  Result<std::vector<Tier>> r = load_tiers_file(kSource + "/tests/shared/scenario/data/tiers.yaml");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "free");
  EXPECT_DOUBLE_EQ((*r)[0].requests_per_minute, 5);
  EXPECT_DOUBLE_EQ((*r)[0].share, 0);  // shares are optional outside a scenario
  EXPECT_EQ((*r)[1].max_concurrent, 4);
  EXPECT_EQ((*r)[1].priority, 3);
}

TEST(Tiers, ErrorsNameTheirPathAndLine) {
  Result<std::vector<Tier>> r = parse_tiers(
      "tiers:\n"
      "  - name: free\n"
      "    requests_per_minute: 10\n"
      "    tokens_per_minute: 1000\n"
      "  - name: free\n"
      "    requests_per_minute: 0\n"
      "    tokens_per_minute: 1000\n"
      "    max_concurent: 2\n",
      "tiers.yaml");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(),
            "tiers.yaml:5: tiers[1].name: duplicate name \"free\" (also tiers[0])\n"
            "tiers.yaml:6: tiers[1].requests_per_minute: must be greater than 0, got 0\n"
            "tiers.yaml:8: tiers[1].max_concurent: unknown field \"max_concurent\" (did you mean \"max_concurrent\"?)");
  r = parse_tiers("tiers:\n  - {name: a, requests_per_minute: 1, tokens_per_minute: 1, share: 0.5}\n", "t.yaml");
  EXPECT_EQ(r.status().message(), "t.yaml:1: tiers: share values must sum to 1, got 0.5");
  r = parse_tiers("tiers: []\n", "t.yaml");
  EXPECT_EQ(r.status().message(), "t.yaml:1: tiers: must list at least one tier");
  r = parse_tiers("{}\n", "t.yaml");
  EXPECT_EQ(r.status().message(), "t.yaml:1: tiers: missing required field");
}

}  // namespace
}  // namespace chatscale
