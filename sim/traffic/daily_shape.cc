#include "sim/traffic/daily_shape.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace chatscale::sim::traffic_internal {
namespace {

double positive_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r < 0) r += m;
  return r >= m ? 0.0 : r;
}

// Off-peak density at x seconds after the window start (window_s <= x <= kDay).
double off_peak_density(const PeakShape& shape, double x) {
  const double s = (x - shape.window_s) / (kDay - shape.window_s);
  const double c = std::cos(std::numbers::pi * s);
  return shape.plateau * (shape.floor + shape.amplitude * std::pow(c * c, shape.exponent));
}

struct BinParts {
  double plateau = 0;
  double off_peak = 0;
};

// Adds the integral over [x0, x1) in window coordinates (x = 0 at the window start; 0 <= x0 < kDay,
// x1 - x0 <= kDay), split at the window's end and at the day's wrap.
void accumulate(const PeakShape& shape, double x0, double x1, BinParts& parts) {
  if (x1 > kDay) {
    accumulate(shape, x0, kDay, parts);
    accumulate(shape, 0.0, x1 - kDay, parts);
    return;
  }
  parts.plateau += std::max(0.0, std::min(x1, shape.window_s) - x0) * shape.plateau;
  const double a = std::max(x0, shape.window_s);
  if (x1 <= a) return;
  const double mid = 0.5 * (a + x1);
  parts.off_peak += (x1 - a) / 6.0 *
                    (off_peak_density(shape, a) + 4.0 * off_peak_density(shape, mid) + off_peak_density(shape, x1));
}

// Γ(k + 1/2) / Γ(k + 1) for large k, where lgamma's difference loses its digits.
double gamma_ratio_asymptotic(double k) {
  return (1.0 - 1.0 / (8.0 * k) + 1.0 / (128.0 * k * k) + 5.0 / (1024.0 * k * k * k)) / std::sqrt(k);
}

}  // namespace

double cos_power_mean(double k) {
  const double ratio = k < 1e4 ? std::exp(std::lgamma(k + 0.5) - std::lgamma(k + 1.0)) : gamma_ratio_asymptotic(k);
  return ratio / std::sqrt(std::numbers::pi);
}

double solve_cos_power_exponent(double mean) {
  double lo = 0.0;   // log k: k = 1 has mean 1/2
  double hi = 80.0;  // k = e^80: mean ~ 1e-18
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    const double mid = 0.5 * (lo + hi);
    (cos_power_mean(std::exp(mid)) > mean ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

PeakShape make_peak_shape(double share, double window_s, double start_s) {
  PeakShape shape;
  shape.start_s = positive_mod(start_s, kDay);
  shape.window_s = window_s;
  const double uniform = window_s / kDay;
  if (share <= uniform) {  // the flat day
    shape.share = uniform;
    shape.plateau = 1.0 / kDay;
    return shape;
  }
  shape.share = std::min(share, 1.0);
  shape.plateau = shape.share / window_s;
  // rho: the off-peak mean as a fraction of the plateau; the trough is rho^2 (see diurnal_profile.h).
  const double rho = (1.0 - shape.share) / (kDay - window_s) / shape.plateau;
  if (rho <= 0) {
    shape.floor = 0;
    shape.amplitude = 0;
    return shape;
  }
  shape.floor = rho * rho;
  shape.amplitude = 1.0 - shape.floor;
  shape.exponent = solve_cos_power_exponent(rho / (1.0 + rho));
  return shape;
}

double peak_density(const PeakShape& shape, double local_s) {
  const double x = positive_mod(local_s - shape.start_s, kDay);
  return x < shape.window_s ? shape.plateau : off_peak_density(shape, x);
}

std::vector<double> peak_density_table(const PeakShape& shape, double offset_s) {
  std::vector<BinParts> parts(kBinCount);
  double off_total = 0;
  for (int j = 0; j < kBinCount; ++j) {
    const double x0 = positive_mod(j * kBin + offset_s - shape.start_s, kDay);
    accumulate(shape, x0, x0 + kBin, parts[static_cast<std::size_t>(j)]);
    off_total += parts[static_cast<std::size_t>(j)].off_peak;
  }
  // Simpson's rule is near exact on a smooth shape; the scale makes the off-peak total exact.
  const double off_scale = off_total > 0 ? (1.0 - shape.share) / off_total : 0.0;
  std::vector<double> table(kBinCount);
  for (std::size_t j = 0; j < table.size(); ++j) {
    table[j] = (parts[j].plateau + parts[j].off_peak * off_scale) / kBin;
  }
  return table;
}

std::vector<double> hourly_density_table(const std::vector<double>& weights, double offset_s) {
  double sum = 0;
  for (double w : weights) sum += w;
  const double hours = static_cast<double>(weights.size());
  const double hour_s = kDay / hours;
  auto weight = [&](double hour) { return weights[static_cast<std::size_t>(positive_mod(hour, hours))]; };
  std::vector<double> table(kBinCount);
  for (int j = 0; j < kBinCount; ++j) {
    const double x0 = positive_mod(j * kBin + offset_s, kDay);
    const double hour = std::floor(x0 / hour_s);
    const double boundary = std::min((hour + 1.0) * hour_s, x0 + kBin);
    const double integral = weight(hour) * (boundary - x0) + weight(hour + 1.0) * (x0 + kBin - boundary);
    table[static_cast<std::size_t>(j)] = integral / (sum * hour_s * kBin);
  }
  return table;
}

std::vector<double> rotate_table(const std::vector<double>& table, long shift) {
  const long n = static_cast<long>(table.size());
  const long s = ((shift % n) + n) % n;
  std::vector<double> out(table.size());
  for (long j = 0; j < n; ++j) out[static_cast<std::size_t>(j)] = table[static_cast<std::size_t>((j + s) % n)];
  return out;
}

bool bin_aligned(double offset_s) {
  const double q = offset_s / kBin;
  return std::abs(q - std::round(q)) < 1e-9;
}

BusiestWindow busiest_window(const std::vector<double>& rates, double window_s) {
  const std::size_t n = rates.size();
  std::vector<double> cum(2 * n + 1, 0.0);  // two days, so a window may wrap past midnight
  for (std::size_t j = 0; j < 2 * n; ++j) cum[j + 1] = cum[j] + rates[j % n] * kBin;
  auto at = [&](double x) {  // cumulative at x in [0, 2 days], linear inside a bin
    const std::size_t idx = std::min(static_cast<std::size_t>(x / kBin), 2 * n - 1);
    return cum[idx] + (cum[idx + 1] - cum[idx]) * (x / kBin - static_cast<double>(idx));
  };
  BusiestWindow best{-1.0, 0.0};
  auto consider = [&](double start) {
    const double integral = at(start + window_s) - at(start);
    if (integral > best.integral) best = {integral, start};
  };
  for (std::size_t j = 0; j < n; ++j) {
    const double edge = static_cast<double>(j) * kBin;
    consider(edge);
    consider(positive_mod(edge - window_s, kDay));
  }
  return best;
}

}  // namespace chatscale::sim::traffic_internal
