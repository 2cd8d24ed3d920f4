// The diurnal traffic profile of a scenario: the full-scale message rate (messages/s) as a function of
// the UTC time of day, globally and per region, periodic over 24 h.
//
// Shapes (TrafficSpec):
// - Peak shape, clock utc: the peak window [peak_start_hour, +peak_hours) is a plateau at
//   daily x peak_share / window, so it carries exactly peak_share of the day. The rest of the day (the
//   off-peak stretch, s = 0 at the window's end, 1 at the next window start) follows
//       plateau x (m + (1 - m) cos^(2k)(pi s)),   m = rho^2,
//   where rho = (off-peak mean rate) / plateau < 1. The off-peak rate equals the plateau at both window
//   edges (continuous, with a flat tangent), falls to its trough m x plateau at the middle of the night
//   (12 h after the window's centre) and never exceeds the plateau, so the peak window is the busiest
//   window of its length. k >= 1 is solved so that the off-peak carries exactly the remainder (the mean
//   of cos^(2k) is Gamma(k+1/2) / (sqrt(pi) Gamma(k+1)) = rho / (1 + rho)). Reference scenario: plateau
//   69,444/s, rho = 0.364, trough 9,183/s at 07:00 UTC, k = 4.22.
// - Peak shape, clock local: every region follows the shape above in its own local time, weighted by
//   its user share; the local shape's concentration (the share its own window carries) is solved by
//   bisection so that the busiest window of the global sum carries peak_share. The largest share any
//   concentration can reach is that of each region's traffic entirely inside its local window; a larger
//   target is kInvalidArgument naming it.
// - hourly_weights (24 values): piecewise constant per hour, normalised to the day, in UTC or in each
//   region's local time per `clock`; peak_share is then not used.
// The day's total is users.daily_active x prompts_per_user_per_day.
//
// Storage: a table of kBins bins of kBinSeconds, each the exact mean rate of the continuous shape over the
// bin; rate() is an O(1) lookup and messages_between() integrates the table exactly.
// Thread-safety: an immutable value once built; every method is const and reentrant.
// Failure behaviour: build() returns kInvalidArgument for an inconsistent traffic section.
#pragma once

#include <cstddef>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"

namespace chatscale::sim {

class DiurnalProfile {
 public:
  static constexpr double kDaySeconds = 86'400.0;
  static constexpr double kBinSeconds = 10.0;
  static constexpr int kBins = 8'640;  // kDaySeconds / kBinSeconds

  static Result<DiurnalProfile> build(const Scenario& scenario);

  // Full-scale messages/s at a UTC time of day in seconds (any real; taken modulo 24 h).
  double rate(double utc_seconds_of_day) const { return rates_[bin_of(utc_seconds_of_day)]; }
  // The share of rate() homed in region i (scenario.regions order).
  double region_rate(std::size_t region, double utc_seconds_of_day) const {
    return region_rates_[static_cast<std::size_t>(bin_of(utc_seconds_of_day)) * regions_ + region];
  }
  std::size_t region_count() const { return regions_; }

  double daily_messages() const { return daily_messages_; }
  // The length of the peak window (traffic.peak_hours) in seconds.
  double window_seconds() const { return window_s_; }
  // Measured on the built table: the largest share of the day any window of window_seconds() carries,
  // that window's UTC start (seconds of day) and its mean rate (messages/s).
  double peak_window_share() const { return peak_window_share_; }
  double busiest_window_start() const { return busiest_start_s_; }
  double peak_rate() const { return peak_window_share_ * daily_messages_ / window_s_; }
  // The highest rate of the table (equal to peak_rate() for the utc peak shape).
  double max_rate() const { return max_rate_; }
  // Peak shape only: the share each region's own window carries (the solved concentration for clock
  // local; peak_share for clock utc). 0 for hourly weights.
  double local_peak_share() const { return local_peak_share_; }

  // Exact integral of the table over [utc_a, utc_b): UTC seconds since midnight of day 0, utc_a <= utc_b,
  // any span (days wrap). Region variant: messages homed in that region.
  double messages_between(double utc_a, double utc_b) const;
  double region_messages_between(std::size_t region, double utc_a, double utc_b) const;

  // The table, for samplers: the bin of a UTC time of day, its rate and its regions' rates.
  static int bin_of(double utc_seconds_of_day);
  double bin_rate(int bin) const { return rates_[static_cast<std::size_t>(bin)]; }
  const double* bin_region_rates(int bin) const {
    return region_rates_.data() + static_cast<std::size_t>(bin) * regions_;
  }

 private:
  DiurnalProfile() = default;
  void fill(const std::vector<std::vector<double>>& region_density, const std::vector<double>& shares);
  void measure();
  static double cumulative(const std::vector<double>& cum, double utc);

  std::size_t regions_ = 0;
  double daily_messages_ = 0;
  double window_s_ = 0;
  double local_peak_share_ = 0;
  double peak_window_share_ = 0;
  double busiest_start_s_ = 0;
  double max_rate_ = 0;
  std::vector<double> rates_;         // kBins, messages/s
  std::vector<double> region_rates_;  // kBins x regions_, bin-major
  std::vector<double> cum_;           // kBins + 1, messages since UTC midnight at each bin edge
  std::vector<std::vector<double>> region_cum_;  // the same per region
};

}  // namespace chatscale::sim
