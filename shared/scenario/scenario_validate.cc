// Cross-field checks of a parsed scenario. Each reports at the line of the field that is wrong, so a
// share sum points at its list, an unknown region name at the name that refers to it.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scenario/scenario_sections.h"

namespace chatscale::scenario_internal {
namespace {

constexpr double kShareTolerance = 1e-3;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string approx(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string indexed(const std::string& list, std::size_t i, const std::string& field) {
  return list + "[" + std::to_string(i) + "]" + (field.empty() ? "" : "." + field);
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Reports `value` at `path` unless it is one of `names` ("region", "cluster", "provider").
void check_reference(YamlDocument& doc, const std::string& path, const std::string& value,
                     const std::vector<std::string>& names, const std::string& what) {
  if (std::find(names.begin(), names.end(), value) != names.end()) return;
  std::vector<std::string> known;
  for (const std::string& n : names) {
    if (std::find(known.begin(), known.end(), n) == known.end()) known.push_back(n);
  }
  std::string problem = "unknown " + what + " \"" + value + "\" (known: " + join(known) + ")";
  const std::string suggestion = closest_match(value, names);
  if (!suggestion.empty()) problem += " (did you mean \"" + suggestion + "\"?)";
  doc.error_at(path, problem);
}

void check_unique(YamlDocument& doc, const std::string& list, const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (names[i] != names[j] || names[i].empty()) continue;
      doc.error_at(indexed(list, i, "name"), "duplicate name \"" + names[i] + "\" (also " + indexed(list, j, "") + ")");
      break;
    }
  }
}

void check_share_sum(YamlDocument& doc, const std::string& list, const std::string& field, double sum) {
  if (std::fabs(sum - 1.0) <= kShareTolerance) return;
  doc.error_at(list, field + " values must sum to 1, got " + approx(sum));
}

void check_not_empty(YamlDocument& doc, const std::string& list, std::size_t size, const std::string& what) {
  if (size == 0 && doc.has_path(list)) doc.error_at(list, "must list at least one " + what);
}

std::vector<std::string> region_names(const Scenario& s) {
  std::vector<std::string> names;
  for (const RegionSpec& r : s.regions) names.push_back(r.name);
  return names;
}

void validate_users_traffic(YamlDocument& doc, const Scenario& s) {
  if (s.users.daily_active > s.users.weekly_active) {
    doc.error_at("users.daily_active", "must not exceed users.weekly_active (" +
                                           std::to_string(s.users.weekly_active) + ")");
  }
  const TrafficSpec& t = s.traffic;
  if (!t.hourly_weights.empty()) {
    double sum = 0;
    for (double w : t.hourly_weights) sum += w;
    if (sum <= 0) doc.error_at("traffic.hourly_weights", "must not all be 0");
  } else if (t.peak_share < t.peak_hours / 24.0 - 1e-9) {
    doc.error_at("traffic.peak_share", "must be at least peak_hours / 24 = " + approx(t.peak_hours / 24.0) +
                                           " (a peak cannot be quieter than the average hour), got " +
                                           approx(t.peak_share));
  }
}

void validate_regions(YamlDocument& doc, Scenario& s) {
  check_not_empty(doc, "regions", s.regions.size(), "region");
  std::vector<std::string> names = region_names(s);
  check_unique(doc, "regions", names);
  double share = 0;
  for (const RegionSpec& r : s.regions) share += r.user_share;
  if (!s.regions.empty()) check_share_sum(doc, "regions", "user_share", share);

  const std::size_t n = s.regions.size();
  const std::pair<const char*, const std::vector<std::vector<double>>*> matrices[] = {
      {"network.latency_ms", &s.network.latency_ms}, {"network.bandwidth_gbps", &s.network.bandwidth_gbps}};
  for (const auto& [path, matrix] : matrices) {
    if (matrix->empty() || (matrix->size() == n && (*matrix)[0].size() == n)) continue;
    doc.error_at(path, "expected a " + std::to_string(n) + "x" + std::to_string(n) +
                           " matrix (a row and a column per region, in file order), got " +
                           std::to_string(matrix->size()) + "x" + std::to_string((*matrix)[0].size()));
  }

  DatabaseSpec& db = s.database;
  if (db.primary_region.empty() && !s.regions.empty()) db.primary_region = s.regions[0].name;
  if (!db.primary_region.empty()) check_reference(doc, "database.primary_region", db.primary_region, names, "region");
}

void validate_model(YamlDocument& doc, const GpuSpec& g) {
  const ModelSpec& m = g.model;
  if (m.heads % m.kv_heads != 0) {
    doc.error_at("gpu.model.kv_heads", "must divide gpu.model.heads (" + std::to_string(m.heads) + "), got " +
                                           std::to_string(m.kv_heads));
  }
  if (m.heads % m.tensor_parallel != 0 || g.fleet.gpus_per_server % m.tensor_parallel != 0) {
    doc.error_at("gpu.model.tensor_parallel",
                 "must divide gpu.model.heads (" + std::to_string(m.heads) + ") and gpu.fleet.gpus_per_server (" +
                     std::to_string(g.fleet.gpus_per_server) + "), got " + std::to_string(m.tensor_parallel));
    return;
  }
  const double usable = g.memory_gib * g.engine.memory_utilization;
  const double weights = m.weight_bytes_per_gpu() / kGiB;
  if (weights >= usable) {
    doc.error_at("gpu.model", "weights take " + approx(weights) + " GiB per GPU at tensor_parallel " +
                                  std::to_string(m.tensor_parallel) + ", more than gpu.memory_gib x "
                                  "gpu.engine.memory_utilization = " + approx(usable) + " GiB");
  }
}

void validate_clusters(YamlDocument& doc, Scenario& s) {
  std::vector<GpuClusterSpec>& clusters = s.gpu.fleet.clusters;
  const std::string list = "gpu.fleet.clusters";
  check_not_empty(doc, list, clusters.size(), "cluster");
  std::vector<std::string> providers;
  for (const auto& [provider, price] : s.costs.gpu_usd_per_hour) providers.push_back(provider);
  check_reference(doc, "costs.gpu_provider", s.costs.gpu_provider, providers, "provider");
  if (!doc.has_path(list)) {
    // Not in the file: one cluster with the whole fleet in the primary region; nothing to check.
    if (clusters.empty()) clusters.push_back({"default", "default", s.database.primary_region, 1.0, ""});
    return;
  }
  std::vector<std::string> names;
  const std::vector<std::string> regions = region_names(s);
  double share = 0;
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    const GpuClusterSpec& c = clusters[i];
    names.push_back(c.name);
    share += c.gpu_share;
    if (!regions.empty()) check_reference(doc, indexed(list, i, "region"), c.region, regions, "region");
    if (!c.provider.empty()) check_reference(doc, indexed(list, i, "provider"), c.provider, providers, "provider");
  }
  check_unique(doc, list, names);
  if (!clusters.empty()) check_share_sum(doc, list, "gpu_share", share);
}

void check_failure_target(YamlDocument& doc, const Scenario& s, const std::string& path, const FailureSpec& f) {
  const std::vector<std::string> regions = region_names(s);
  switch (f.kind) {
    case FailureKind::kPrimaryDown:
      if (!f.target.empty()) doc.error_at(path, "must be empty for primary_down, got \"" + f.target + "\"");
      return;
    case FailureKind::kGpuClusterDown: {
      std::vector<std::string> clusters;
      for (const GpuClusterSpec& c : s.gpu.fleet.clusters) clusters.push_back(c.name);
      check_reference(doc, path, f.target, clusters, "cluster");
      return;
    }
    case FailureKind::kLinkDown: {
      const std::size_t comma = f.target.find(',');
      if (comma == std::string::npos) {
        doc.error_at(path, "expected two region names as \"a,b\", got \"" + f.target + "\"");
        return;
      }
      check_reference(doc, path, f.target.substr(0, comma), regions, "region");
      check_reference(doc, path, f.target.substr(comma + 1), regions, "region");
      return;
    }
    default:
      check_reference(doc, path, f.target, regions, "region");
  }
}

void validate_failures(YamlDocument& doc, const Scenario& s) {
  const std::vector<FailureSpec>& failures = s.availability.failures;
  const std::string list = "availability.failures";
  for (std::size_t i = 0; i < failures.size(); ++i) {
    const FailureSpec& f = failures[i];
    check_failure_target(doc, s, indexed(list, i, "target"), f);
    if (f.at_s >= s.simulation.duration_s) {
      doc.error_at(indexed(list, i, "at_s"), "starts after the run ends (simulation.duration_s = " +
                                                 approx(s.simulation.duration_s) + "), got " + approx(f.at_s));
    }
  }
}

}  // namespace

void validate_tiers(YamlDocument& doc, const std::vector<Tier>& tiers, const std::string& path,
                    bool shares_required) {
  check_not_empty(doc, path, tiers.size(), "tier");
  std::vector<std::string> names;
  double share = 0;
  for (const Tier& t : tiers) {
    names.push_back(t.name);
    share += t.share;
  }
  check_unique(doc, path, names);
  if (!tiers.empty() && (shares_required || share > 0)) check_share_sum(doc, path, "share", share);
}

void validate_scenario(YamlDocument& doc, Scenario& s) {
  validate_users_traffic(doc, s);
  validate_regions(doc, s);
  validate_model(doc, s.gpu);
  validate_clusters(doc, s);
  validate_tiers(doc, s.tiers, "rate_limits.tiers", true);
  validate_failures(doc, s);
  if (s.simulation.warmup_s >= s.simulation.duration_s) {
    doc.error_at("simulation.warmup_s", "must be less than simulation.duration_s (" +
                                            approx(s.simulation.duration_s) + "), got " + approx(s.simulation.warmup_s));
  }
}

}  // namespace chatscale::scenario_internal
