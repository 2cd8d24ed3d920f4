// What a simulator run leaves behind: the headline figures (full scale) computed from a SimRun, the
// report rows that set them beside the reference design's figures and the first-principles arithmetic
// of shared/capacity, and the report folder: summary.json, report.md, SVG figures, metrics.om.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"
#include "sim/report/report_md.h"
#include "sim/report/run_info.h"
#include "sim/report/summary.h"
#include "sim/runner/sim_runner.h"

namespace chatscale::sim {

RunInfo run_info(const Scenario& scenario, const SimRun& run);
Summary summarize(const Scenario& scenario, const SimRun& run);
std::vector<ReportRow> report_rows(const Scenario& scenario, const SimRun& run, const Summary& summary);

// Writes the report folder (created if needed); returns a short text summary for the terminal.
Result<std::string> write_outputs(const Scenario& scenario, const SimRun& run, const std::string& dir);

}  // namespace chatscale::sim
