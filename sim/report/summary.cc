#include "sim/report/summary.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>


namespace chatscale::sim {
namespace {

using Json = nlohmann::ordered_json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Field {
  const char* key;
  double Summary::*member;
};

// The figures after the run facts, in file order.
constexpr Field kFigures[] = {
    {"messages_total", &Summary::messages_total},
    {"peak_messages_per_s", &Summary::peak_messages_per_s},
    {"ttft_p50_s", &Summary::ttft_p50_s},
    {"ttft_p99_s", &Summary::ttft_p99_s},
    {"e2e_p50_s", &Summary::e2e_p50_s},
    {"e2e_p99_s", &Summary::e2e_p99_s},
    {"max_concurrent_streams", &Summary::max_concurrent_streams},
    {"peak_egress_gbps", &Summary::peak_egress_gbps},
    {"db_primary_peak_tps", &Summary::db_primary_peak_tps},
    {"db_replica_lag_p99_s", &Summary::db_replica_lag_p99_s},
    {"db_read_fraction", &Summary::db_read_fraction},
    {"rate_limited_fraction", &Summary::rate_limited_fraction},
    {"moderated_fraction", &Summary::moderated_fraction},
    {"messages_lost", &Summary::messages_lost},
    {"availability", &Summary::availability},
    {"storage_bytes_per_day", &Summary::storage_bytes_per_day},
};

Result<double> number_at(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return invalid_argument(std::string("summary: missing \"") + key + "\"");
  if (it->is_null()) return kNaN;
  if (!it->is_number()) return invalid_argument(std::string("summary: \"") + key + "\" is not a number");
  return it->get<double>();
}

Result<std::uint64_t> count_at(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned())
    return invalid_argument(std::string("summary: \"") + key + "\" must be a non-negative integer");
  return it->get<std::uint64_t>();
}

Status read_extra(const Json& j, Summary& s) {
  auto it = j.find("extra");
  if (it == j.end()) return Status::ok();
  if (!it->is_object()) return invalid_argument("summary: \"extra\" must be an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_number() && !value.is_null()) return invalid_argument("summary: extra \"" + key + "\" is not a number");
    s.extra[key] = value.is_null() ? kNaN : value.get<double>();
  }
  return Status::ok();
}

}  // namespace

std::string summary_to_json(const Summary& s) {
  Json j;
  j["scenario"] = s.scenario;
  j["sample_factor"] = s.sample_factor;
  j["seed"] = s.seed;
  j["simulated_seconds"] = s.simulated_seconds;
  j["wall_seconds"] = s.wall_seconds;
  j["events"] = s.events;
  for (const Field& f : kFigures) j[f.key] = s.*f.member;  // NaN is written as null
  Json extra = Json::object();
  for (const auto& [k, v] : s.extra) extra[k] = v;
  j["extra"] = std::move(extra);
  return j.dump(2) + "\n";
}

Result<Summary> parse_summary_json(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("summary: not a JSON object");
  Summary s;
  auto name = j.find("scenario");
  if (name == j.end() || !name->is_string()) return invalid_argument("summary: \"scenario\" must be a string");
  s.scenario = name->get<std::string>();
  CS_ASSIGN_OR_RETURN(s.sample_factor, number_at(j, "sample_factor"));
  CS_ASSIGN_OR_RETURN(s.seed, count_at(j, "seed"));
  CS_ASSIGN_OR_RETURN(s.simulated_seconds, number_at(j, "simulated_seconds"));
  CS_ASSIGN_OR_RETURN(s.wall_seconds, number_at(j, "wall_seconds"));
  CS_ASSIGN_OR_RETURN(s.events, count_at(j, "events"));
  for (const Field& f : kFigures) {
    CS_ASSIGN_OR_RETURN(s.*f.member, number_at(j, f.key));
  }
  CS_RETURN_IF_ERROR(read_extra(j, s));
  return s;
}

Status write_summary_json(const std::string& path, const Summary& summary) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return internal_error("cannot write " + path + ": " + std::strerror(errno));
  out << summary_to_json(summary);
  out.flush();
  if (!out) return internal_error("writing " + path + " failed: " + std::strerror(errno));
  return Status::ok();
}

Result<Summary> read_summary_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse_summary_json(text.str());
  if (!parsed.is_ok()) return invalid_argument(path + ": " + parsed.status().message());
  return parsed;
}

}  // namespace chatscale::sim
