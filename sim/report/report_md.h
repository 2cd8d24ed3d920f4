// report.md: the human-readable capacity report of one run. A headline table puts each figure's
// simulated value beside the reference design's value, the first-principles arithmetic behind the
// reference (as text) and a verdict (holds / breaks, with the ratio); then sections for latency,
// database, streams and bandwidth, cost and availability with the summary's figures, the rows of that
// section and links to the SVG figures. The runner fills the rows; this file owns structure and
// number formatting.
//
// Pure functions; the path overload writes the file and returns an error Status when it cannot.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/report/run_info.h"
#include "sim/report/summary.h"

namespace chatscale::sim {

// How a simulated value is judged against the reference.
enum class Check {
  kWithin,   // holds when |simulated / reference - 1| <= tolerance
  kAtMost,   // a limit: holds when simulated <= reference
  kAtLeast,  // a floor: holds when simulated >= reference
  kInfo,     // shown without a verdict
};

struct ReportRow {
  std::string section;  // "latency", "database", "streams and bandwidth", "cost", "availability" or another
  std::string figure;   // "Peak messages per second"
  double simulated = std::numeric_limits<double>::quiet_NaN();
  double reference = std::numeric_limits<double>::quiet_NaN();
  std::string unit;        // how both values print; see format_value
  std::string arithmetic;  // "2.5e9 x 0.20 / 7200 s = 69,444/s"
  Check check = Check::kWithin;
  double tolerance = 0.10;  // kWithin only
  bool headline = true;     // also listed in the headline table
  std::string note;
};

struct Verdict {
  bool holds = false;
  double ratio = std::numeric_limits<double>::quiet_NaN();  // simulated / reference
  std::string text;  // "holds (x1.02)", "breaks (x3.1)", "n/a", "-"
};
Verdict judge(const ReportRow& row);

// A value with its unit: "s" as a duration ("850 ms"), "B" as SI bytes ("2.5 TB"), "%" for a fraction
// shown in percent ("12.34%"), "$" as dollars ("$1,234"); anything else as a number with thousands
// separators (3 significant digits below 1,000) followed by the unit ("69,444 /s", "0.75 Gbps").
std::string format_value(double v, std::string_view unit);

struct FigureLink {
  std::string section;  // where the link goes (as ReportRow::section)
  std::string title;
  std::string file;  // relative to report.md, e.g. "messages_per_s.svg"
};

struct ReportOptions {
  std::string title;                // default "Capacity report: <scenario>"
  std::vector<FigureLink> figures;
  std::vector<std::string> notes;   // paragraphs at the end (assumptions, caveats)
};

std::string render_report_md(const Summary& summary, const std::vector<ReportRow>& rows,
                             const ReportOptions& options = {});
Status write_report_md(const std::string& path, const Summary& summary, const std::vector<ReportRow>& rows,
                       const ReportOptions& options = {});

}  // namespace chatscale::sim
