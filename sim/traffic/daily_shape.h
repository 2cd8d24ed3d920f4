// The building blocks of DiurnalProfile (see diurnal_profile.h for the shapes): a day's relative shape
// in local time, tabulated into UTC bins for a region at a given UTC offset, and the busiest window of a
// table. Densities are fractions of the day per second: a table's bins times kBinSeconds sum to 1.
//
// Internal to sim/traffic (exposed for its tests). Thread-safety: pure functions of their arguments.
// Failure behaviour: none; callers validate (0 < window_s < 24 h, 0 <= share <= 1, 24 weights summing > 0).
#pragma once

#include <vector>

namespace chatscale::sim::traffic_internal {

inline constexpr double kDay = 86'400.0;
inline constexpr double kBin = 10.0;
inline constexpr int kBinCount = 8'640;

// The peak shape in local time: a plateau over [start_s, start_s + window_s) carrying `share` of the day,
// and plateau x (floor + amplitude x cos^(2 exponent)(pi s)) over the rest (s in [0, 1] across it).
struct PeakShape {
  double start_s = 0;
  double window_s = 0;
  double share = 0;
  double plateau = 0;    // density inside the window: share / window_s
  double floor = 1;      // off-peak trough as a fraction of the plateau
  double amplitude = 0;  // 1 - floor, or 0 when the off-peak carries nothing (share 1)
  double exponent = 1;
};

// The shape whose window carries `share` (at least window_s / 24 h, the flat day; at most 1).
PeakShape make_peak_shape(double share, double window_s, double start_s);
// Mean of cos^(2k)(pi s) over s in [0, 1]: Gamma(k + 1/2) / (sqrt(pi) Gamma(k + 1)), decreasing in k.
double cos_power_mean(double k);
// The k >= 1 whose cos_power_mean is `mean` (0 < mean <= 1/2), by bisection on log k.
double solve_cos_power_exponent(double mean);
// Density of the shape at a local time of day (seconds, any real).
double peak_density(const PeakShape& shape, double local_s);

// Per-bin mean density over the UTC bins of a region whose local time is UTC + offset_s. The plateau
// part is integrated exactly and the off-peak part by Simpson's rule, then scaled to carry exactly
// 1 - share, so every table sums to 1.
std::vector<double> peak_density_table(const PeakShape& shape, double offset_s);
// The same for 24 hourly weights (normalised here), exact.
std::vector<double> hourly_density_table(const std::vector<double>& weights, double offset_s);
// table[(j + shift) mod n]: the UTC table of a region whose offset is shift bins, from the offset-0 one.
std::vector<double> rotate_table(const std::vector<double>& table, long shift);
// True when offset_s is a whole number of bins (a rotation of the offset-0 table is then exact).
bool bin_aligned(double offset_s);

struct BusiestWindow {
  double integral = 0;  // sum of rate x time over the window
  double start_s = 0;   // its start, seconds of day in [0, 24 h)
};
// The window of length window_s (< 24 h) with the largest integral of a periodic per-bin rate table.
// The integral is piecewise linear in the start, so the maximum is at a start or an end on a bin edge.
BusiestWindow busiest_window(const std::vector<double>& rates, double window_s);

}  // namespace chatscale::sim::traffic_internal
