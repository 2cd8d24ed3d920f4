// The standard figures of a run, drawn from the recorder's snapshots: messages per second, TTFT p50
// and p99 per snapshot window, concurrent streams, replica lag per replica, primary versus replica
// load, and egress in Gbps. Each is an SVG file in the output folder; the returned links go into
// report.md (ReportOptions::figures).
//
// Reads the recorder after the run. Failure behaviour: the first file that cannot be written stops
// the work and its error Status is returned.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "sim/report/recorder.h"
#include "sim/report/report_md.h"
#include "sim/report/run_info.h"
#include "sim/report/timeseries.h"

namespace chatscale::sim {

struct Figure {
  std::string file;     // "messages_per_s.svg"
  std::string section;  // report section (see ReportRow::section)
  std::string title;
  std::string y_label;
  std::vector<TimeSeries> series;
};

// The standard figures' data, without writing anything. TTFT percentiles come from the exact samples
// when the recorder has any (windows of quantile_window_s, or of the snapshot interval when 0), else
// from the histogram over spans of at least quantile_window_s (0: each snapshot interval); wide
// windows keep sampled runs with few messages per interval readable.
std::vector<Figure> standard_figures(const Recorder& rec, double quantile_window_s = 300);
// Writes each figure to dir/<file> and returns the links, in order.
Result<std::vector<FigureLink>> write_figures(const std::vector<Figure>& figures, const RunInfo& info,
                                              const std::string& dir);

}  // namespace chatscale::sim
