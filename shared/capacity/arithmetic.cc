#include "capacity/arithmetic.h"

#include "scenario/scenario_cost.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace chatscale {
namespace {

std::string num(double v, int decimals = 0) { return format_number(v, decimals); }

double tokens_of(double bytes, const Scenario& s) { return bytes / s.traffic.bytes_per_token; }

CapacityFigure figure(std::string key, std::string label, std::string unit, double value, std::string arithmetic,
              std::optional<double> claimed = std::nullopt, std::string note = "") {
  return CapacityFigure{std::move(key), std::move(label), std::move(unit), value, std::move(arithmetic), claimed,
                std::move(note)};
}

void traffic_figures(const Scenario& s, std::vector<CapacityFigure>& out) {
  const auto& u = s.users;
  const auto& t = s.traffic;
  double daily = t.daily_messages(u);
  double peak = t.peak_messages_per_s(u);
  out.push_back(figure("daily_messages", "Messages per day", "messages", daily,
                       num(u.daily_active) + " daily users x " + num(u.prompts_per_user_per_day, 1) + " prompts",
                       2.5e9, "MISSION: 2.5B prompts a day"));
  out.push_back(figure("peak_messages_per_s", "Peak messages per second", "messages/s", peak,
                       num(daily) + " x " + num(t.peak_share, 2) + " / (" + num(t.peak_hours, 1) + " h x 3,600 s)",
                       69'444, "MISSION: 20% of daily traffic in 2 hours"));
  out.push_back(figure("average_messages_per_s", "Average messages per second", "messages/s", daily / 86'400,
                       num(daily) + " / 86,400 s"));
  double exchange = t.user_message.mean_bytes + t.assistant_response.mean_bytes;
  out.push_back(figure("storage_bytes_per_day", "Message storage per day", "bytes/day", daily * exchange,
                       num(daily) + " x (" + num(t.user_message.mean_bytes) + " + " +
                           num(t.assistant_response.mean_bytes) + ") bytes",
                       1.5e12, "MISSION: 1.5 TB/day"));
  out.push_back(figure("storage_bytes_per_user_per_day", "Message storage per daily user", "bytes/day",
                       u.prompts_per_user_per_day * exchange,
                       num(u.prompts_per_user_per_day, 1) + " x " + num(exchange) + " bytes", 7'500,
                       "MISSION: 7.5 KB per user per day"));
  out.push_back(figure("storage_bytes_per_year", "Message storage per year", "bytes/year", daily * exchange * 365,
                       num(daily * exchange) + " bytes x 365", 548e12, "MISSION: 548 TB/year"));
  out.push_back(figure("profile_bytes", "User profiles", "bytes", u.weekly_active * s.storage.profile_bytes,
                       num(u.weekly_active) + " users x " + num(s.storage.profile_bytes) + " bytes", 1e12,
                       "MISSION: 1 KB x 1B = 1 TB"));
  double conversations = u.weekly_active * s.storage.conversations_per_user;
  out.push_back(figure("conversation_metadata_bytes", "Conversation metadata", "bytes",
                       conversations * s.storage.conversation_metadata_bytes,
                       num(conversations) + " conversations x " + num(s.storage.conversation_metadata_bytes) +
                           " bytes",
                       5e12, "MISSION: 10B conversations x 500 B = 5 TB"));
}

void stream_figures(const Scenario& s, std::vector<CapacityFigure>& out) {
  const auto& t = s.traffic;
  double peak = t.peak_messages_per_s(s.users);
  double streams = peak * t.stream_duration_s;
  out.push_back(figure("max_concurrent_streams", "Concurrent answer streams at peak", "streams", streams,
                       "Little's law: " + num(peak) + " messages/s x " + num(t.stream_duration_s, 1) + " s",
                       20e6,
                       "MISSION's 20M is 10% of daily users in a conversation; as open answer streams it "
                       "would need " + num(20e6 / t.stream_duration_s) + " answers/s"));
  double gbps = peak * t.stream_bytes * 8 / 1e9;
  out.push_back(figure("peak_egress_gbps", "Answer egress at peak", "Gbps", gbps,
                       num(peak) + " answers/s x " + num(t.stream_bytes) + " bytes x 8 bits", 6.0,
                       "MISSION: 20M x 750 B / 20 s = 6 Gbps, i.e. 1M answers/s: " +
                           num(20e6 / 20 / std::max(peak, 1.0), 1) + "x the peak message rate"));
}

void database_figures(const Scenario& s, std::vector<CapacityFigure>& out) {
  const auto& db = s.database;
  double peak = s.traffic.peak_messages_per_s(s.users);
  double writes = peak * db.writes_per_prompt.total();
  double reads = peak * db.reads_per_prompt.total();
  out.push_back(figure("db_primary_peak_tps", "Primary write statements per second at peak", "writes/s", writes,
                       num(peak) + " messages/s x " + num(db.writes_per_prompt.total(), 1) + " writes"));
  out.push_back(figure("db_primary_utilization", "Primary utilisation at peak", "ratio",
                       writes / db.primary_max_transactions_per_s,
                       num(writes) + " / " + num(db.primary_max_transactions_per_s) + " writes/s capacity"));
  out.push_back(figure("db_reads_per_s", "Database reads per second at peak", "reads/s", reads,
                       num(peak) + " messages/s x " + num(db.reads_per_prompt.total(), 1) + " reads"));
  out.push_back(figure("db_read_fraction", "Read share of database statements", "ratio", reads / (reads + writes),
                       num(db.reads_per_prompt.total(), 1) + " / (" + num(db.reads_per_prompt.total(), 1) + " + " +
                           num(db.writes_per_prompt.total(), 1) + ")",
                       0.9, "MISSION: ~90% reads"));
  double replicas = static_cast<double>(std::max<std::int64_t>(1, s.total_read_replicas()));
  out.push_back(figure("db_reads_per_replica_per_s", "Reads per replica at peak", "reads/s", reads / replicas,
                       num(reads) + " / " + num(replicas) + " replicas"));
  double wal = writes * db.wal_bytes_per_write;
  out.push_back(figure("db_wal_bytes_per_s", "WAL written at peak", "bytes/s", wal,
                       num(writes) + " writes/s x " + num(db.wal_bytes_per_write) + " bytes"));
  out.push_back(figure("db_replica_apply_headroom", "Replica replay headroom at peak", "ratio",
                       db.replica_apply_bytes_per_s / std::max(wal, 1.0),
                       num(db.replica_apply_bytes_per_s) + " bytes/s apply / " + num(wal) +
                           " bytes/s WAL (below 1: lag grows without bound)"));
}

void gpu_figures(const Scenario& s, std::vector<CapacityFigure>& out) {
  double peak = s.traffic.peak_messages_per_s(s.users);
  double out_tokens = peak * tokens_of(s.traffic.assistant_response.mean_bytes, s);
  out.push_back(figure("output_tokens_per_s", "Output tokens per second at peak", "tokens/s", out_tokens,
                       num(peak) + " answers/s x " + num(tokens_of(s.traffic.assistant_response.mean_bytes, s)) +
                           " tokens"));
  double gpus = static_cast<double>(std::max<std::int64_t>(1, s.gpu.fleet.gpus));
  out.push_back(figure("output_tokens_per_gpu_s", "Output tokens per GPU per second at peak", "tokens/s",
                       out_tokens / gpus, num(out_tokens) + " / " + num(gpus) + " GPUs"));
  double in_tokens = peak * prompt_tokens_per_message(s);
  out.push_back(figure("prompt_tokens_per_s", "Prompt tokens per second at peak", "tokens/s", in_tokens,
                       num(peak) + " messages/s x " + num(prompt_tokens_per_message(s)) +
                           " tokens (new message + half the earlier turns)"));
}

void cost_figures(const Scenario& s, std::vector<CapacityFigure>& out) {
  auto inputs = scenario_cost_inputs(s);
  if (!inputs.is_ok()) return;  // the scenario parser already refuses clusters without a price
  CostBreakdown cost = monthly_cost(*inputs);
  out.push_back(figure("self_hosted_usd_per_month", "Self-hosted cost per month", "USD/month",
                       cost.self_hosted_usd, "GPUs " + format_usd(cost.gpu_usd) + " + infrastructure " +
                                                 format_usd(cost.infrastructure_usd),
                       52.4e6, "MISSION: ~$52.4M/month self-hosted"));
  out.push_back(figure("api_usd_per_month", "LLM API cost per month", "USD/month", cost.api_usd,
                       "tokens " + format_usd(cost.api_tokens_usd) + " + infrastructure " +
                           format_usd(cost.infrastructure_usd),
                       145e6, "MISSION: ~$145-159M/month"));
}

}  // namespace

std::string format_number(double value, int decimals) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(value));
  std::string digits(buf);
  auto dot = digits.find('.');
  std::string whole = digits.substr(0, dot), frac = dot == std::string::npos ? "" : digits.substr(dot);
  std::string grouped;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  bool negative = value < 0 && std::stod(digits) != 0;
  return (negative ? "-" : "") + grouped + frac;
}

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  double v = bytes;
  while (std::fabs(v) >= 1000 && u < 6) {
    v /= 1000;
    ++u;
  }
  return format_number(v, u == 0 ? 0 : 2) + " " + units[u];
}

std::string verdict(double value, double claimed, double relative_tolerance) {
  if (claimed == 0) return value == 0 ? "holds" : "breaks";
  double ratio = value / claimed;
  if (std::fabs(ratio - 1) <= relative_tolerance) return "holds";
  return "breaks (x" + format_number(ratio, ratio < 10 ? 2 : 0) + ")";
}

std::vector<CapacityFigure> capacity_figures(const Scenario& s) {
  std::vector<CapacityFigure> out;
  traffic_figures(s, out);
  stream_figures(s, out);
  database_figures(s, out);
  gpu_figures(s, out);
  cost_figures(s, out);
  return out;
}

std::string format_capacity_plan(const Scenario& s) {
  std::ostringstream o;
  o << "Capacity plan for scenario \"" << s.name << "\" (first-principles arithmetic, no simulation)\n\n";
  for (const auto& f : capacity_figures(s)) {
    o << "  " << f.label << ": " << format_number(f.value, f.value < 10 ? 3 : 0) << " " << f.unit << "\n";
    o << "      = " << f.arithmetic << "\n";
    if (f.claimed) {
      o << "      reference " << format_number(*f.claimed, *f.claimed < 10 ? 3 : 0) << ": "
        << verdict(f.value, *f.claimed) << (f.claim_note.empty() ? "" : " -- " + f.claim_note) << "\n";
    }
  }
  if (auto inputs = scenario_cost_inputs(s); inputs.is_ok())
    o << "\nMonthly cost\n" << format_cost_breakdown(monthly_cost(*inputs));
  return o.str();
}

}  // namespace chatscale
