// Dependency-free SVG line charts of simulated time series: the x axis shows the time of day (HH:MM)
// with ticks on round times, the y axis "nice" ticks (1, 2, 5 x 10^k), one coloured line per series
// and a legend. Long series are thinned to the per-pixel minimum and maximum so files stay small.
//
// Pure functions; the path overload does file I/O and returns an error Status when the file cannot
// be written. Non-finite points break a line instead of drawing it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/report/timeseries.h"

namespace chatscale::sim {

struct ChartOptions {
  double time_of_day_offset_s = 0;  // seconds since midnight UTC at x = 0 (RunInfo::time_of_day_offset_s())
  int width = 960;
  int height = 480;
  bool y_from_zero = true;  // the y range includes 0
};

std::string render_svg_line_chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                                  const std::vector<TimeSeries>& series, const ChartOptions& options = {});
Status write_svg_line_chart(const std::string& path, std::string_view title, std::string_view x_label,
                            std::string_view y_label, const std::vector<TimeSeries>& series,
                            const ChartOptions& options = {});

// Exposed for tests. Ticks covering [lo, hi] at a 1/2/5 x 10^k step, about `target` of them; the first
// is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Ticks inside [t0, t1] at round times of day (a step from 1 s to 1 day, at most `target` ticks).
std::vector<double> time_ticks(double t0, double t1, double time_of_day_offset_s, int target = 8);
// "HH:MM" (or "HH:MM:SS" when with_seconds) of a time of day in seconds, wrapped to one day.
std::string time_of_day_label(double seconds, bool with_seconds = false);
// XML text escaping (& < > " ').
std::string xml_escape(std::string_view text);

}  // namespace chatscale::sim
