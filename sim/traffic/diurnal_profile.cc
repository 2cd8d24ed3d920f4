#include "sim/traffic/diurnal_profile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "sim/traffic/daily_shape.h"

namespace chatscale::sim {
namespace {

using traffic_internal::kBin;
using traffic_internal::kBinCount;
using traffic_internal::kDay;
using traffic_internal::PeakShape;

static_assert(DiurnalProfile::kBins == kBinCount && DiurnalProfile::kBinSeconds == kBin &&
              DiurnalProfile::kDaySeconds == kDay);

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

Status validate_regions(const Scenario& s) {
  if (s.regions.empty()) return invalid_argument("regions: a traffic profile needs at least one region");
  double sum = 0;
  for (const RegionSpec& r : s.regions) {
    if (!(r.user_share >= 0) || !std::isfinite(r.user_share)) {
      return invalid_argument("regions: " + r.name + ".user_share must be a finite share >= 0");
    }
    if (!std::isfinite(r.utc_offset_hours)) return invalid_argument("regions: " + r.name + ".utc_offset_hours");
    sum += r.user_share;
  }
  if (sum <= 0) return invalid_argument("regions: user_share must not all be 0");
  return Status::ok();
}

Status validate_traffic(const Scenario& s) {
  const TrafficSpec& t = s.traffic;
  const double daily = t.daily_messages(s.users);
  if (!(daily > 0) || !std::isfinite(daily)) {
    return invalid_argument("users: daily_active x prompts_per_user_per_day must be > 0, got " + num(daily));
  }
  if (!(t.peak_hours > 0 && t.peak_hours < 24)) {
    return invalid_argument("traffic.peak_hours must be in (0, 24), got " + num(t.peak_hours));
  }
  if (!t.hourly_weights.empty()) {
    if (t.hourly_weights.size() != 24) return invalid_argument("traffic.hourly_weights must have 24 values");
    double sum = 0;
    for (double w : t.hourly_weights) {
      if (!(w >= 0) || !std::isfinite(w)) return invalid_argument("traffic.hourly_weights must be finite, >= 0");
      sum += w;
    }
    if (sum <= 0) return invalid_argument("traffic.hourly_weights must not all be 0");
    return Status::ok();
  }
  const double uniform = t.peak_hours / 24.0;
  if (!(t.peak_share >= uniform - 1e-9 && t.peak_share <= 1.0)) {
    return invalid_argument("traffic.peak_share must be in [peak_hours / 24 = " + num(uniform) + ", 1], got " +
                            num(t.peak_share));
  }
  if (!std::isfinite(t.peak_start_hour)) return invalid_argument("traffic.peak_start_hour must be finite");
  return Status::ok();
}

std::vector<double> offsets_s(const Scenario& s) {
  std::vector<double> out;
  for (const RegionSpec& r : s.regions) out.push_back(r.utc_offset_hours * 3600.0);
  return out;
}

// Each region's density table for the peak shape: rotations of the offset-0 table where the offset is
// a whole number of bins (the usual case: whole, half and quarter hours), else tabulated afresh.
std::vector<std::vector<double>> local_tables(const PeakShape& shape, const std::vector<double>& offsets) {
  const std::vector<double> base = traffic_internal::peak_density_table(shape, 0.0);
  std::vector<std::vector<double>> out;
  for (double offset : offsets) {
    out.push_back(traffic_internal::bin_aligned(offset)
                      ? traffic_internal::rotate_table(base, std::lround(offset / kBin))
                      : traffic_internal::peak_density_table(shape, offset));
  }
  return out;
}

// Share of the day in the busiest window of the share-weighted sum of the regions' local shapes.
double global_share(double local_share, const TrafficSpec& t, const std::vector<double>& offsets,
                    const std::vector<double>& shares) {
  const double window = t.peak_hours * 3600.0;
  const PeakShape shape = traffic_internal::make_peak_shape(local_share, window, t.peak_start_hour * 3600.0);
  const std::vector<std::vector<double>> tables = local_tables(shape, offsets);
  std::vector<double> sum(kBinCount, 0.0);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += shares[i] * tables[i][j];
  }
  return traffic_internal::busiest_window(sum, window).integral;
}

// The local concentration whose global busiest window carries peak_share. The global share is
// continuous in the local one, from the flat day (window / 24 h) at the uniform share to its largest
// value when every region's day sits inside its own window (local share 1); bisection between them.
Result<double> solve_local_share(const TrafficSpec& t, const std::vector<double>& offsets,
                                 const std::vector<double>& shares) {
  const double uniform = t.peak_hours / 24.0;
  if (t.peak_share <= uniform + 1e-12) return uniform;
  const double best = global_share(1.0, t, offsets, shares);
  if (t.peak_share > best + 1e-9) {
    return invalid_argument("traffic.peak_share " + num(t.peak_share) + " cannot be reached with clock: local: " +
                            "the busiest " + num(t.peak_hours) + " h window of the regions' sum carries at most " +
                            num(best) + " of the day (every region's traffic inside its own local window); " +
                            "lower peak_share or use clock: utc");
  }
  if (t.peak_share >= best) return 1.0;
  double lo = uniform;
  double hi = 1.0;
  for (int i = 0; i < 100 && hi - lo > 1e-13; ++i) {
    const double mid = 0.5 * (lo + hi);
    const double share = global_share(mid, t, offsets, shares);
    if (std::abs(share - t.peak_share) <= 1e-10 * t.peak_share) return mid;
    (share < t.peak_share ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

Result<DiurnalProfile> DiurnalProfile::build(const Scenario& scenario) {
  CS_RETURN_IF_ERROR(validate_regions(scenario));
  CS_RETURN_IF_ERROR(validate_traffic(scenario));
  const TrafficSpec& t = scenario.traffic;
  const bool local = t.clock == DiurnalClock::kLocal;
  std::vector<double> shares;
  double share_sum = 0;
  for (const RegionSpec& r : scenario.regions) share_sum += r.user_share;
  for (const RegionSpec& r : scenario.regions) shares.push_back(r.user_share / share_sum);
  std::vector<double> offsets = offsets_s(scenario);
  if (!local) std::fill(offsets.begin(), offsets.end(), 0.0);

  DiurnalProfile profile;
  profile.daily_messages_ = t.daily_messages(scenario.users);
  profile.window_s_ = t.peak_hours * 3600.0;
  std::vector<std::vector<double>> density;
  if (!t.hourly_weights.empty()) {
    for (double offset : offsets) density.push_back(traffic_internal::hourly_density_table(t.hourly_weights, offset));
  } else {
    double share = t.peak_share;
    if (local) {
      CS_ASSIGN_OR_RETURN(share, solve_local_share(t, offsets, shares));
    }
    profile.local_peak_share_ = std::max(share, t.peak_hours / 24.0);
    const PeakShape shape =
        traffic_internal::make_peak_shape(share, profile.window_s_, t.peak_start_hour * 3600.0);
    density = local_tables(shape, offsets);
  }
  profile.fill(density, shares);
  profile.measure();
  return profile;
}

void DiurnalProfile::fill(const std::vector<std::vector<double>>& region_density, const std::vector<double>& shares) {
  regions_ = shares.size();
  rates_.assign(kBins, 0.0);
  region_rates_.assign(static_cast<std::size_t>(kBins) * regions_, 0.0);
  cum_.assign(kBins + 1, 0.0);
  region_cum_.assign(regions_, std::vector<double>(kBins + 1, 0.0));
  for (std::size_t j = 0; j < rates_.size(); ++j) {
    for (std::size_t i = 0; i < regions_; ++i) {
      const double r = daily_messages_ * shares[i] * region_density[i][j];
      region_rates_[j * regions_ + i] = r;
      region_cum_[i][j + 1] = region_cum_[i][j] + r * kBinSeconds;
      rates_[j] += r;
    }
    cum_[j + 1] = cum_[j] + rates_[j] * kBinSeconds;
  }
}

void DiurnalProfile::measure() {
  const traffic_internal::BusiestWindow w = traffic_internal::busiest_window(rates_, window_s_);
  peak_window_share_ = w.integral / cum_.back();
  busiest_start_s_ = w.start_s;
  max_rate_ = *std::max_element(rates_.begin(), rates_.end());
}

int DiurnalProfile::bin_of(double utc_seconds_of_day) {
  double r = std::fmod(utc_seconds_of_day, kDaySeconds);
  if (r < 0) r += kDaySeconds;
  return std::min(static_cast<int>(r / kBinSeconds), kBins - 1);
}

double DiurnalProfile::cumulative(const std::vector<double>& cum, double utc) {
  const double days = std::floor(utc / kDaySeconds);
  const double r = utc - days * kDaySeconds;
  const std::size_t idx = std::min(static_cast<std::size_t>(std::max(r, 0.0) / kBinSeconds),
                                   static_cast<std::size_t>(kBins - 1));
  const double within = r / kBinSeconds - static_cast<double>(idx);
  return days * cum.back() + cum[idx] + (cum[idx + 1] - cum[idx]) * within;
}

double DiurnalProfile::messages_between(double utc_a, double utc_b) const {
  return cumulative(cum_, utc_b) - cumulative(cum_, utc_a);
}

double DiurnalProfile::region_messages_between(std::size_t region, double utc_a, double utc_b) const {
  return cumulative(region_cum_[region], utc_b) - cumulative(region_cum_[region], utc_a);
}

}  // namespace chatscale::sim
