// scenarios/README.md documents every key the parsers accept, and documents no key they do not.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "scenario/scenario.h"

namespace chatscale {
namespace {

std::string readme() {
  std::ifstream in(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/README.md");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first `code` cell of every table row: "| `traffic.peak_share` | ..." gives traffic.peak_share.
std::set<std::string> documented_keys(const std::string& text) {
  std::set<std::string> keys;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::size_t end = line.find('`', 3);
    if (end != std::string::npos) keys.insert(line.substr(3, end - 3));
  }
  return keys;
}

TEST(ScenarioDocs, EveryAcceptedKeyIsDocumented) {
  const std::set<std::string> documented = documented_keys(readme());
  ASSERT_FALSE(documented.empty());
  std::vector<std::string> paths = scenario_key_paths();
  EXPECT_GT(paths.size(), 100u);
  // A standalone tiers file is the rate_limits section on its own (same reader, same rows).
  for (const std::string& path : tiers_key_paths()) paths.push_back("rate_limits." + path);
  for (const std::string& path : paths) {
    EXPECT_TRUE(documented.count(path) > 0) << "scenarios/README.md has no row for `" << path << "`";
  }
}

TEST(ScenarioDocs, EveryDocumentedKeyIsAccepted) {
  std::set<std::string> accepted;
  for (const std::string& path : scenario_key_paths()) accepted.insert(path);
  for (const std::string& key : documented_keys(readme())) {
    EXPECT_TRUE(accepted.count(key) > 0) << "scenarios/README.md documents `" << key << "`, which no parser accepts";
  }
}

TEST(ScenarioDocs, SchemaPathsCoverListsAndNestedSections) {
  const std::vector<std::string> paths = scenario_key_paths();
  for (const char* expected : {"regions", "regions[].user_share", "gpu.fleet.clusters[].gpu_share",
                               "rate_limits.tiers[].tokens_per_minute", "availability.failures[].kind",
                               "database.reads_per_prompt.feature_flags", "traffic.user_message.mean_bytes",
                               "costs.gpu_usd_per_hour", "network.latency_ms"}) {
    EXPECT_TRUE(std::find(paths.begin(), paths.end(), expected) != paths.end()) << expected;
  }
}

}  // namespace
}  // namespace chatscale
