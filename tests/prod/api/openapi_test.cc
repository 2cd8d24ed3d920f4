// prod/api/openapi.yaml describes exactly the routes the server registers: every registered route is
// in the file and every operation in the file is registered; every $ref in it resolves.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "api_test_support.h"

namespace chatscale::api::test {
namespace {

const std::string kSpec = std::string(CHATSCALE_SOURCE_DIR) + "/prod/api/openapi.yaml";

std::set<std::string> documented_operations(const YAML::Node& spec) {
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  std::set<std::string> out;
  for (const auto& path : spec["paths"]) {
    for (const auto& entry : path.second) {
      std::string method = entry.first.as<std::string>();
      if (kMethods.count(method) == 0) continue;
      std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
      out.insert(method + " " + path.first.as<std::string>());
    }
  }
  return out;
}

void collect_refs(const YAML::Node& node, std::set<std::string>& refs) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (entry.first.as<std::string>() == "$ref") refs.insert(entry.second.as<std::string>());
      else collect_refs(entry.second, refs);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect_refs(item, refs);
  }
}

TEST(OpenApi, DescribesExactlyTheRegisteredRoutes) {
  YAML::Node spec = YAML::LoadFile(kSpec);
  ASSERT_EQ(spec["openapi"].as<std::string>().rfind("3.1", 0), 0u);
  ApiHarness h;
  std::set<std::string> registered;
  for (const auto& route : h.routes) EXPECT_TRUE(registered.insert(route.method + " " + route.pattern).second) << "duplicate";
  EXPECT_TRUE(h.router.status().is_ok()) << h.router.status().to_string();
  EXPECT_EQ(h.router.size(), h.routes.size()) << "the router took every route";

  std::set<std::string> documented = documented_operations(spec);
  for (const auto& op : registered) EXPECT_EQ(documented.count(op), 1u) << op << " is served but not in openapi.yaml";
  for (const auto& op : documented) EXPECT_EQ(registered.count(op), 1u) << op << " is in openapi.yaml but not served";
  EXPECT_GE(registered.size(), 20u);
}

TEST(OpenApi, EveryReferenceResolves) {
  YAML::Node spec = YAML::LoadFile(kSpec);
  std::set<std::string> refs;
  collect_refs(spec, refs);
  ASSERT_FALSE(refs.empty());
  for (const auto& ref : refs) {
    ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
    YAML::Node node = YAML::Clone(spec);
    std::string rest = ref.substr(2);
    while (!rest.empty()) {
      auto slash = rest.find('/');
      std::string part = rest.substr(0, slash);
      node = node[part];
      ASSERT_TRUE(node.IsDefined()) << ref << " does not resolve at " << part;
      rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
    }
  }
}

}  // namespace
}  // namespace chatscale::api::test
