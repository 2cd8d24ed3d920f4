// OpenMetrics text of everything a Recorder holds, with simulated timestamps mapped to Unix time, so
// `promtool tsdb create-blocks-from openmetrics FILE DIR` loads a simulated day into Prometheus and the
// production dashboards show it (label mode="sim").
//
// Layout: every catalogue family in catalogue order with TYPE, UNIT (when the name ends in a unit) and
// HELP; counters as <family>_total, histograms as _bucket{le}/_count/_sum; each series' samples
// together and in time order (one per written snapshot, timestamps in seconds with millisecond
// precision, never two equal in a series); `# EOF` last.
// Thread-safety: reads the recorder; call after the run. Failure behaviour: the path overload returns
// an error Status when the file cannot be written; nothing is thrown.
#pragma once

#include <ostream>
#include <string>

#include "core/status.h"
#include "sim/report/recorder.h"
#include "sim/report/run_info.h"

namespace chatscale::sim {

struct OpenMetricsOptions {
  // Writes a snapshot only when it is at least this long after the last one written: thins the
  // output of long runs (24 h at 15 s is 5,760 points a series). 0 writes every snapshot.
  double min_step_s = 0;
};

void write_openmetrics(std::ostream& out, const Recorder& rec, const RunInfo& info,
                       const OpenMetricsOptions& options = {});
Status write_openmetrics(const std::string& path, const Recorder& rec, const RunInfo& info,
                         const OpenMetricsOptions& options = {});

// Exposed for tests: the label-value escaping (\\, \", \n) and the family name of a catalogue metric
// (counters lose their _total suffix) with its OpenMetrics unit ("" when none).
std::string escape_label_value(std::string_view value);
std::string openmetrics_family_name(const MetricDef& def);
std::string openmetrics_unit(const MetricDef& def);

}  // namespace chatscale::sim
