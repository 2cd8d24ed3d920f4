#include "sim/report/report_md.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <utility>

#include "sim/report/format.h"

namespace chatscale::sim {
namespace {

// The fixed sections, in report order, with their headings.
constexpr std::pair<std::string_view, std::string_view> kSections[] = {
    {"latency", "Latency"},
    {"database", "Database"},
    {"streams and bandwidth", "Streams and bandwidth"},
    {"cost", "Cost"},
    {"availability", "Availability"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

using Bullets = std::vector<std::pair<std::string, std::string>>;  // (label, value)

// The summary's figures that belong to a fixed section.
Bullets summary_bullets(std::string_view section, const Summary& s) {
  if (section == "latency")
    return {{"Time to first token p50", format_value(s.ttft_p50_s, "s")},
            {"Time to first token p99", format_value(s.ttft_p99_s, "s")},
            {"End-to-end latency p50", format_value(s.e2e_p50_s, "s")},
            {"End-to-end latency p99", format_value(s.e2e_p99_s, "s")}};
  if (section == "database")
    return {{"Primary peak load", format_value(s.db_primary_peak_tps, "queries/s")},
            {"Replica lag p99", format_value(s.db_replica_lag_p99_s, "s")},
            {"Reads among queries", format_value(s.db_read_fraction, "%")},
            {"Storage growth per day", format_value(s.storage_bytes_per_day, "B")}};
  if (section == "streams and bandwidth")
    return {{"Peak messages per second", format_value(s.peak_messages_per_s, "/s")},
            {"Most concurrent answer streams", format_value(s.max_concurrent_streams, "")},
            {"Peak egress", format_value(s.peak_egress_gbps, "Gbps")}};
  if (section == "availability")
    return {{"Availability", format_value(s.availability, "%")},
            {"Messages lost", format_value(s.messages_lost, "")},
            {"Rate-limited messages", format_value(s.rate_limited_fraction, "%")},
            {"Moderated messages", format_value(s.moderated_fraction, "%")}};
  Bullets out;
  if (section == "cost") {
    for (const auto& [k, v] : s.extra)
      if (k.starts_with("cost_")) out.emplace_back(k, format_value(v, "$"));
  }
  return out;
}

void append_table(std::string& md, const std::vector<const ReportRow*>& rows) {
  if (rows.empty()) return;
  md += "| Figure | Simulated | Reference | First-principles arithmetic | Verdict |\n";
  md += "|---|---:|---:|---|---|\n";
  for (const ReportRow* r : rows) {
    std::string figure = r->figure;
    if (!r->note.empty()) figure += " (" + r->note + ")";
    md += "| " + markdown_cell(figure) + " | " + markdown_cell(format_value(r->simulated, r->unit)) + " | " +
          markdown_cell(format_value(r->reference, r->unit)) + " | " + markdown_cell(r->arithmetic) + " | " +
          markdown_cell(judge(*r).text) + " |\n";
  }
  md += "\n";
}

void append_header(std::string& md, const Summary& s, const ReportOptions& o) {
  md += "# " + (o.title.empty() ? "Capacity report: " + s.scenario : o.title) + "\n\n";
  std::string k = s.sample_factor > 0 ? format_thousands(1 / s.sample_factor) : "n/a";
  md += "Scenario `" + s.scenario + "`: " + format_duration(s.simulated_seconds) + " simulated at sample factor 1/" + k +
        " (f = " + format_shortest(s.sample_factor) + "), seed " + std::to_string(s.seed) + "; " +
        format_thousands(static_cast<double>(s.events)) + " events in " + format_duration(s.wall_seconds) +
        " of wall time";
  if (s.wall_seconds > 0)
    md += " (" + format_thousands(static_cast<double>(s.events) / s.wall_seconds) + " per second)";
  md += ". Figures are at full scale: " + format_thousands(s.messages_total) + " messages.\n\n";
}

void append_section(std::string& md, std::string_view heading, const Bullets& bullets,
                    const std::vector<const ReportRow*>& rows, const std::vector<const FigureLink*>& figures) {
  if (bullets.empty() && rows.empty() && figures.empty()) return;
  md += "## " + std::string(heading) + "\n\n";
  for (const auto& [label, value] : bullets) md += "- " + label + ": " + value + "\n";
  if (!bullets.empty()) md += "\n";
  append_table(md, rows);
  for (const FigureLink* f : figures) md += "![" + f->title + "](" + f->file + ")\n\n";
}

// Section keys in report order: the fixed ones, then others as they first appear.
std::vector<std::string> section_order(const std::vector<ReportRow>& rows, const ReportOptions& o) {
  std::vector<std::string> order;
  for (const auto& [key, heading] : kSections) order.emplace_back(key);
  auto add = [&](const std::string& s) {
    std::string key = lower(s);
    if (!key.empty() && std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  };
  for (const auto& r : rows) add(r.section);
  for (const auto& f : o.figures) add(f.section);
  return order;
}

std::string heading_of(const std::string& key, const std::vector<ReportRow>& rows, const ReportOptions& o) {
  for (const auto& [k, heading] : kSections)
    if (k == key) return std::string(heading);
  for (const auto& r : rows)
    if (lower(r.section) == key) return r.section;
  for (const auto& f : o.figures)
    if (lower(f.section) == key) return f.section;
  return key;
}

void append_sections(std::string& md, const Summary& s, const std::vector<ReportRow>& rows, const ReportOptions& o) {
  for (const std::string& key : section_order(rows, o)) {
    std::vector<const ReportRow*> in_rows;
    for (const auto& r : rows)
      if (lower(r.section) == key) in_rows.push_back(&r);
    std::vector<const FigureLink*> in_figures;
    for (const auto& f : o.figures)
      if (lower(f.section) == key) in_figures.push_back(&f);
    append_section(md, heading_of(key, rows, o), summary_bullets(key, s), in_rows, in_figures);
  }
  Bullets other;
  for (const auto& [k, v] : s.extra)
    if (!k.starts_with("cost_")) other.emplace_back(k, format_value(v, ""));
  append_section(md, "Other figures", other, {}, {});
}

}  // namespace

Verdict judge(const ReportRow& row) {
  Verdict v;
  if (row.check == Check::kInfo) {
    v.holds = true;
    v.text = "-";
    return v;
  }
  if (!std::isfinite(row.simulated) || std::isnan(row.reference)) {
    v.text = "n/a";
    return v;
  }
  if (row.reference != 0) v.ratio = row.simulated / row.reference;
  switch (row.check) {
    case Check::kWithin: v.holds = std::isfinite(v.ratio) ? std::fabs(v.ratio - 1) <= row.tolerance
                                                          : row.simulated == row.reference; break;
    case Check::kAtMost: v.holds = row.simulated <= row.reference; break;
    case Check::kAtLeast: v.holds = row.simulated >= row.reference; break;
    case Check::kInfo: break;
  }
  v.text = v.holds ? "holds" : "breaks";
  if (std::isfinite(v.ratio)) v.text += " (" + format_ratio(v.ratio) + ")";
  return v;
}

std::string format_value(double v, std::string_view unit) {
  if (!std::isfinite(v)) return "n/a";
  if (unit == "s") return format_duration(v);
  if (unit == "B") return format_bytes(v);
  if (unit == "%") return format_percent(v, 2);
  if (unit == "$") return (v < 0 ? "-$" : "$") + format_thousands(std::fabs(v), std::fabs(v) < 100 ? 2 : 0);
  std::string number = std::fabs(v) >= 1000 ? format_thousands(v) : format_significant(v, 3);
  return unit.empty() ? number : number + " " + std::string(unit);
}

std::string render_report_md(const Summary& summary, const std::vector<ReportRow>& rows, const ReportOptions& o) {
  std::string md;
  append_header(md, summary, o);
  md += "## Headline\n\n";
  std::vector<const ReportRow*> headline;
  for (const auto& r : rows)
    if (r.headline) headline.push_back(&r);
  if (headline.empty()) md += "No reference figures were given for this run.\n\n";
  append_table(md, headline);
  append_sections(md, summary, rows, o);
  if (!o.notes.empty()) {
    md += "## Notes\n\n";
    for (const auto& n : o.notes) md += n + "\n\n";
  }
  return md;
}

Status write_report_md(const std::string& path, const Summary& summary, const std::vector<ReportRow>& rows,
                       const ReportOptions& options) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return internal_error("cannot write " + path + ": " + std::strerror(errno));
  out << render_report_md(summary, rows, options);
  out.flush();
  if (!out) return internal_error("writing " + path + " failed: " + std::strerror(errno));
  return Status::ok();
}

}  // namespace chatscale::sim
