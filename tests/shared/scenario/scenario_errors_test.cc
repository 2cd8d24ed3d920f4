// Each kind of scenario error, with its exact "file:line: field.path: problem" text.
#include <gtest/gtest.h>

#include "scenario/scenario.h"

namespace chatscale {
namespace {

// Lines 1-9: a valid scenario; tests append from line 10 on.
const std::string kBase =
    "name: t\n"                                                                            // 1
    "regions:\n"                                                                           // 2
    "  - name: us-east\n"                                                                  // 3
    "    user_share: 0.5\n"                                                                // 4
    "  - name: eu-west\n"                                                                  // 5
    "    user_share: 0.5\n"                                                                // 6
    "rate_limits:\n"                                                                       // 7
    "  tiers:\n"                                                                           // 8
    "    - {name: free, share: 1, requests_per_minute: 10, tokens_per_minute: 1000}\n";   // 9

std::string errors_of(const std::string& yaml, const std::string& file = "scenarios/x.yaml") {
  Result<Scenario> r = parse_scenario(yaml, file);
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ScenarioErrors, BaseIsValid) { EXPECT_EQ(errors_of(kBase), ""); }

TEST(ScenarioErrors, OutOfRange) {
  EXPECT_EQ(errors_of(kBase + "traffic:\n  peak_hours: 2\n  peak_share: 1.5\n"),
            "scenarios/x.yaml:12: traffic.peak_share: must be between 0 and 1, got 1.5");
  EXPECT_EQ(errors_of(kBase + "simulation: {sample_factor: 0}\n"),
            "scenarios/x.yaml:10: simulation.sample_factor: must be greater than 0 and at most 1, got 0");
  EXPECT_EQ(errors_of(kBase + "gpu:\n  fleet:\n    gpus: -5\n"),
            "scenarios/x.yaml:12: gpu.fleet.gpus: must be at least 1, got -5");
}

TEST(ScenarioErrors, UnknownFieldSuggestsTheClosestKnownOne) {
  EXPECT_EQ(errors_of(kBase + "database:\n  primary_region: us-east\n  replica_max_lagg_s: 3\n"),
            "scenarios/x.yaml:12: database.replica_max_lagg_s: unknown field \"replica_max_lagg_s\" "
            "(did you mean \"replica_max_lag_s\"?)");
  EXPECT_EQ(errors_of(kBase + "trafic:\n  peak_share: 0.2\n"),
            "scenarios/x.yaml:10: trafic: unknown field \"trafic\" (did you mean \"traffic\"?)");
  EXPECT_EQ(errors_of(kBase + "colour: blue\n"), "scenarios/x.yaml:10: colour: unknown field \"colour\"");
}

TEST(ScenarioErrors, WrongType) {
  EXPECT_EQ(errors_of(kBase + "users:\n  daily_active:\n    a: 1\n"),
            "scenarios/x.yaml:12: users.daily_active: expected a whole number, got a map");
  EXPECT_EQ(errors_of(kBase + "traffic: 5\n"), "scenarios/x.yaml:10: traffic: expected a map, got \"5\"");
  EXPECT_EQ(errors_of(kBase + "traffic: {arrivals: possion}\n"),
            "scenarios/x.yaml:10: traffic.arrivals: must be one of poisson, uniform, got \"possion\" "
            "(did you mean \"poisson\"?)");
}

TEST(ScenarioErrors, MissingRequiredFields) {
  EXPECT_EQ(errors_of("regions: []\n"),
            "scenarios/x.yaml:1: name: missing required field\n"
            "scenarios/x.yaml:1: rate_limits.tiers: missing required field\n"
            "scenarios/x.yaml:1: regions: must list at least one region");
  EXPECT_EQ(errors_of(kBase + "availability:\n  failures:\n    - kind: region_down\n      target: us-east\n"),
            "scenarios/x.yaml:12: availability.failures[0].at_s: missing required field\n"
            "scenarios/x.yaml:12: availability.failures[0].duration_s: missing required field");
}

TEST(ScenarioErrors, SyntaxErrorWithItsLine) {
  const std::string e = errors_of("name: t\nregions:\n  - {name: a, user_share: 1\nrate_limits: {}\n");
  EXPECT_EQ(e.rfind("scenarios/x.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find(": YAML syntax error: "), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);  // one error; nothing is read past a syntax error
  const std::string tab = errors_of("name: t\nusers:\n\tdaily_active: 5\n");
  EXPECT_EQ(tab.rfind("scenarios/x.yaml:3: (document): YAML syntax error", 0), 0u) << tab;
}

TEST(ScenarioErrors, CrossFieldChecks) {
  EXPECT_EQ(errors_of(kBase + "database: {primary_region: us-eats}\n"),
            "scenarios/x.yaml:10: database.primary_region: unknown region \"us-eats\" (known: us-east, eu-west) "
            "(did you mean \"us-east\"?)");
  EXPECT_EQ(errors_of(kBase + "users: {weekly_active: 10, daily_active: 20}\n"),
            "scenarios/x.yaml:10: users.daily_active: must not exceed users.weekly_active (10)");
  EXPECT_EQ(errors_of(kBase + "traffic: {peak_share: 0.05, peak_hours: 2}\n"),
            "scenarios/x.yaml:10: traffic.peak_share: must be at least peak_hours / 24 = 0.0833333 (a peak "
            "cannot be quieter than the average hour), got 0.05");
  EXPECT_EQ(errors_of(kBase + "gpu: {model: {tensor_parallel: 3}}\n"),
            "scenarios/x.yaml:10: gpu.model.tensor_parallel: must divide gpu.model.heads (32) and "
            "gpu.fleet.gpus_per_server (8), got 3");
  EXPECT_EQ(errors_of(kBase + "gpu: {memory_gib: 10}\n"),
            "scenarios/x.yaml:10: gpu.model: weights take 14.957 GiB per GPU at tensor_parallel 1, more than "
            "gpu.memory_gib x gpu.engine.memory_utilization = 9 GiB");
  EXPECT_EQ(errors_of(kBase + "network:\n  latency_ms: [[1, 2], [2, 1], [3, 3]]\n"),
            "scenarios/x.yaml:11: network.latency_ms: expected a 2x2 matrix (a row and a column per region, in "
            "file order), got 3x2");
  EXPECT_EQ(errors_of(kBase + "simulation: {duration_s: 100, warmup_s: 100}\n"),
            "scenarios/x.yaml:10: simulation.warmup_s: must be less than simulation.duration_s (100), got 100");
}

TEST(ScenarioErrors, ClustersAndFailuresReferToKnownNames) {
  const std::string clusters =
      "gpu:\n"                                                                        // 10
      "  fleet:\n"                                                                    // 11
      "    clusters:\n"                                                               // 12
      "      - {name: a, region: us-east, gpu_share: 0.5}\n"                          // 13
      "      - {name: a, region: eu-wset, gpu_share: 0.4, provider: lamda}\n"         // 14
      "costs: {gpu_provider: reference_blended, gpu_usd_per_hour: {reference_blended: 4.1, lambda: 2.99}}\n"
      "availability:\n"                                                               // 16
      "  failures:\n"                                                                 // 17
      "    - {kind: gpu_cluster_down, target: b, at_s: 10, duration_s: 5}\n"          // 18
      "    - {kind: link_down, target: us-east, at_s: 10, duration_s: 5}\n"           // 19
      "    - {kind: primary_down, at_s: 99999, duration_s: 5}\n";                     // 20
  EXPECT_EQ(errors_of(kBase + clusters),
            "scenarios/x.yaml:12: gpu.fleet.clusters: gpu_share values must sum to 1, got 0.9\n"
            "scenarios/x.yaml:14: gpu.fleet.clusters[1].region: unknown region \"eu-wset\" (known: us-east, eu-west) "
            "(did you mean \"eu-west\"?)\n"
            "scenarios/x.yaml:14: gpu.fleet.clusters[1].provider: unknown provider \"lamda\" (known: lambda, "
            "reference_blended) (did you mean \"lambda\"?)\n"
            "scenarios/x.yaml:14: gpu.fleet.clusters[1].name: duplicate name \"a\" (also gpu.fleet.clusters[0])\n"
            "scenarios/x.yaml:18: availability.failures[0].target: unknown cluster \"b\" (known: a)\n"
            "scenarios/x.yaml:19: availability.failures[1].target: expected two region names as \"a,b\", got "
            "\"us-east\"\n"
            "scenarios/x.yaml:20: availability.failures[2].at_s: starts after the run ends "
            "(simulation.duration_s = 3600), got 99999");
}

TEST(ScenarioErrors, AllErrorsOfAFileAreCollected) {
  const std::string path = std::string(CHATSCALE_SOURCE_DIR) + "/tests/shared/scenario/data/bad_many.yaml";
  Result<Scenario> r = load_scenario_file(path);
  ASSERT_FALSE(r.is_ok());
  const std::string f = path + ":";
  EXPECT_EQ(r.status().message(),
            f + "4: users.daily_active: expected a whole number, got \"lots\"\n" +
            f + "6: traffic.peak_share: must be between 0 and 1, got 1.5\n" +
            f + "7: regions: user_share values must sum to 1, got 0.7\n" +
            f + "10: regions[0].read_replcas: unknown field \"read_replcas\" (did you mean \"read_replicas\"?)\n" +
            f + "11: regions[1].user_share: missing required field\n" +
            f + "16: database.primary_region: unknown region \"us-eats\" (known: us-east, eu-west) "
                "(did you mean \"us-east\"?)\n" +
            f + "18: simulation.sample_factor: must be greater than 0 and at most 1, got 0");
}

TEST(ScenarioErrors, ControlCharactersAreEscaped) {
  EXPECT_EQ(errors_of(kBase + "moderation: {input_flag\x01rate: 0.1}\n"),
            "scenarios/x.yaml:10: moderation.input_flag\\x01rate: unknown field \"input_flag\\x01rate\" "
            "(did you mean \"input_flag_rate\"?)");
}

TEST(ScenarioErrors, SyntaxErrorFileReportsItsLine) {
  const std::string path = std::string(CHATSCALE_SOURCE_DIR) + "/tests/shared/scenario/data/bad_syntax.yaml";
  Result<Scenario> r = load_scenario_file(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().rfind(path + ":4: (document): YAML syntax error: ", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace chatscale
