// Internal to shared/scenario: the section readers and cross-field checks behind parse_scenario and
// parse_tiers. Readers fill a struct from one YamlMap (types, ranges, unknown keys); checks look across
// sections (shares summing to 1, names that must refer to a region or cluster) and report at the line of
// the offending field. Thread-safety: none needed; each call works on its own document.
#pragma once

#include <string>
#include <vector>

#include "ratelimit/tier.h"
#include "scenario/scenario.h"
#include "scenario/yaml_reader.h"

namespace chatscale::scenario_internal {

// The whole scenario document (root mapping).
void read_scenario(YamlMap& root, Scenario& scenario);
// A mapping holding `tiers:`, the scenario's rate_limits section or a standalone tiers file's root.
void read_rate_limits(YamlMap& section, std::vector<Tier>& tiers);

// Cross-field checks; also fills the defaults that depend on other sections (primary region, the
// default GPU cluster).
void validate_scenario(YamlDocument& doc, Scenario& scenario);
// Unique names; shares summing to 1 (required when `shares_required`, else only when any is set).
void validate_tiers(YamlDocument& doc, const std::vector<Tier>& tiers, const std::string& path,
                    bool shares_required);

}  // namespace chatscale::scenario_internal
