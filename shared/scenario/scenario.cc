#include "scenario/scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scenario/scenario_sections.h"
#include "scenario/yaml_reader.h"

namespace chatscale {
namespace {

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return internal_error(path + ": read failed");
  return text.str();
}

std::vector<std::string> sorted_paths(const YamlDocument& doc) {
  return {doc.schema_paths().begin(), doc.schema_paths().end()};
}

}  // namespace

std::string_view size_distribution_name(SizeDistribution d) {
  switch (d) {
    case SizeDistribution::kFixed: return "fixed";
    case SizeDistribution::kExponential: return "exponential";
    case SizeDistribution::kLognormal: return "lognormal";
  }
  return "unknown";
}

std::string_view failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kRegionDown: return "region_down";
    case FailureKind::kPrimaryDown: return "primary_down";
    case FailureKind::kReplicaDown: return "replica_down";
    case FailureKind::kGpuClusterDown: return "gpu_cluster_down";
    case FailureKind::kServiceHostsDown: return "service_hosts_down";
    case FailureKind::kLinkDown: return "link_down";
  }
  return "unknown";
}

double ModelSpec::parameters() const { return shape().parameters(); }

double ModelSpec::weight_bytes_per_gpu() const {
  return parameters() * static_cast<double>(dtype_bytes) / static_cast<double>(tensor_parallel);
}

ModelShape ModelSpec::shape() const {
  ModelShape m;
  m.name = name;
  m.hidden = hidden;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = head_dim;
  m.ffn = ffn;
  m.layers = layers;
  m.vocab = vocab;
  m.dtype_bytes = dtype_bytes;
  return m;
}

double ModelSpec::kv_bytes_per_token_per_gpu() const {
  return shape().kv_bytes_per_token_per_gpu(static_cast<int>(tensor_parallel));
}

std::vector<double> TrafficSpec::hour_shares() const {
  std::vector<double> shares(24, 0.0);
  if (!hourly_weights.empty()) {
    double sum = 0;
    for (double w : hourly_weights) sum += w;
    for (std::size_t h = 0; h < shares.size() && h < hourly_weights.size(); ++h) {
      shares[h] = sum > 0 ? hourly_weights[h] / sum : 0;
    }
    return shares;
  }
  const double off_peak_hours = 24.0 - peak_hours;
  for (int h = 0; h < 24; ++h) {
    // Overlap of [h, h+1) with the window, also shifted a day back to catch a wrap past midnight.
    double overlap = 0;
    for (double start : {peak_start_hour, peak_start_hour - 24.0}) {
      overlap += std::max(0.0, std::min<double>(h + 1, start + peak_hours) - std::max<double>(h, start));
    }
    shares[h] = overlap / peak_hours * peak_share;
    if (off_peak_hours > 0) shares[h] += (1.0 - overlap) / off_peak_hours * (1.0 - peak_share);
  }
  return shares;
}

int Scenario::region_index(std::string_view region) const {
  for (std::size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].name == region) return static_cast<int>(i);
  }
  return -1;
}

double Scenario::latency_ms(std::size_t a, std::size_t b) const {
  if (!network.latency_ms.empty()) return network.latency_ms.at(a).at(b);
  if (a == b) return network.same_region_latency_ms;
  const std::string& ga = regions.at(a).group;
  return !ga.empty() && ga == regions.at(b).group ? network.same_group_latency_ms : network.cross_group_latency_ms;
}

double Scenario::bandwidth_gbps(std::size_t a, std::size_t b) const {
  if (!network.bandwidth_gbps.empty()) return network.bandwidth_gbps.at(a).at(b);
  return a == b ? network.intra_region_bandwidth_gbps : network.inter_region_bandwidth_gbps;
}

std::int64_t Scenario::total_read_replicas() const {
  std::int64_t n = 0;
  for (const RegionSpec& r : regions) n += r.read_replicas;
  return n;
}

std::int64_t Scenario::total_service_hosts() const {
  std::int64_t n = 0;
  for (const RegionSpec& r : regions) n += r.service_hosts;
  return n;
}

std::string Scenario::calibration_profile_path() const {
  if (gpu.calibration_profile.empty()) return "";
  const std::filesystem::path profile(gpu.calibration_profile);
  if (profile.is_absolute()) return profile.string();
  return (std::filesystem::path(source_path).parent_path() / profile).lexically_normal().string();
}

Result<Scenario> parse_scenario(std::string_view yaml, const std::string& filename) {
  YamlDocument doc(filename);
  Scenario scenario;
  scenario.source_path = filename;
  if (doc.load(yaml)) {
    read_root(doc, [&](YamlMap& root) { scenario_internal::read_scenario(root, scenario); });
    scenario_internal::validate_scenario(doc, scenario);
  }
  if (doc.has_errors()) return doc.status();
  return scenario;
}

Result<Scenario> load_scenario_file(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  return parse_scenario(text, path);
}

Result<std::vector<Tier>> parse_tiers(std::string_view yaml, const std::string& filename) {
  YamlDocument doc(filename);
  std::vector<Tier> tiers;
  if (doc.load(yaml)) {
    read_root(doc, [&](YamlMap& root) { scenario_internal::read_rate_limits(root, tiers); });
    scenario_internal::validate_tiers(doc, tiers, "tiers", false);
  }
  if (doc.has_errors()) return doc.status();
  return tiers;
}

Result<std::vector<Tier>> load_tiers_file(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  return parse_tiers(text, path);
}

std::vector<std::string> scenario_key_paths() {
  YamlDocument doc("<schema>", /*schema_walk=*/true);
  Scenario scenario;
  read_root(doc, [&](YamlMap& root) { scenario_internal::read_scenario(root, scenario); });
  return sorted_paths(doc);
}

std::vector<std::string> tiers_key_paths() {
  YamlDocument doc("<schema>", /*schema_walk=*/true);
  std::vector<Tier> tiers;
  read_root(doc, [&](YamlMap& root) { scenario_internal::read_rate_limits(root, tiers); });
  return sorted_paths(doc);
}

}  // namespace chatscale
