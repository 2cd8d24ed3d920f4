#include "sim/traffic/daily_shape.h"

#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim::traffic_internal {
namespace {

double table_sum(const std::vector<double>& t) { return std::accumulate(t.begin(), t.end(), 0.0) * kBin; }

TEST(CosPowerMean, MatchesClosedFormsAndInverts) {
  EXPECT_NEAR(cos_power_mean(1.0), 0.5, 1e-14);
  EXPECT_NEAR(cos_power_mean(2.0), 3.0 / 8.0, 1e-14);
  EXPECT_NEAR(cos_power_mean(3.0), 5.0 / 16.0, 1e-14);
  // The asymptotic branch agrees with lgamma where both are accurate.
  const double k = 1e4;
  EXPECT_NEAR(cos_power_mean(k * 1.0000001) / cos_power_mean(k), 1.0, 1e-6);
  for (double mean : {0.5, 0.3, 0.1, 1e-3, 1e-7}) {
    EXPECT_NEAR(cos_power_mean(solve_cos_power_exponent(mean)) / mean, 1.0, 1e-9) << mean;
  }
}

TEST(PeakShape, WindowCarriesShareAndOffPeakIsContinuousAndLower) {
  const PeakShape shape = make_peak_shape(0.2, 7200, 18 * 3600.0);
  EXPECT_NEAR(shape.plateau, 0.2 / 7200, 1e-18);
  const std::vector<double> table = peak_density_table(shape, 0.0);
  EXPECT_NEAR(table_sum(table), 1.0, 1e-12);
  double window = 0;
  for (int j = 18 * 360; j < 20 * 360; ++j) window += table[static_cast<std::size_t>(j)] * kBin;
  EXPECT_NEAR(window, 0.2, 1e-12);
  // Continuous at both edges, never above the plateau, trough rho^2 twelve hours after the centre.
  EXPECT_NEAR(peak_density(shape, 18 * 3600.0 - 1e-6) / shape.plateau, 1.0, 1e-9);
  EXPECT_NEAR(peak_density(shape, 20 * 3600.0 + 1e-6) / shape.plateau, 1.0, 1e-9);
  const double rho = (0.8 / 79200) / shape.plateau;
  EXPECT_NEAR(peak_density(shape, 7 * 3600.0) / shape.plateau, rho * rho, 1e-9);
  for (double t = 0; t < 86400; t += 60) EXPECT_LE(peak_density(shape, t), shape.plateau * (1 + 1e-12)) << t;
}

TEST(PeakShape, FlatAndAllInWindowExtremes) {
  const PeakShape flat = make_peak_shape(2.0 / 24.0, 7200, 0);
  for (double t : {0.0, 3600.0, 50000.0}) EXPECT_NEAR(peak_density(flat, t) * kDay, 1.0, 1e-12);
  const PeakShape box = make_peak_shape(1.0, 7200, 0);
  EXPECT_EQ(peak_density(box, 8000), 0.0);
  EXPECT_NEAR(table_sum(peak_density_table(box, 0.0)), 1.0, 1e-12);
}

TEST(PeakShape, UnalignedOffsetMatchesAlignedIntegrals) {
  const PeakShape shape = make_peak_shape(0.3, 7200, 3600.0 * 18.37);
  const std::vector<double> t = peak_density_table(shape, 1234.5);
  EXPECT_NEAR(table_sum(t), 1.0, 1e-12);
  EXPECT_NEAR(busiest_window(t, 7200).integral, 0.3, 1e-3);
}

TEST(HourlyTable, SplitsBinsAtHourBoundaries) {
  std::vector<double> w(24, 0.0);
  w[12] = 2.0;
  const std::vector<double> utc = hourly_density_table(w, 0.0);
  EXPECT_NEAR(table_sum(utc), 1.0, 1e-12);
  EXPECT_NEAR(utc[12 * 360] * 3600, 1.0, 1e-12);
  EXPECT_EQ(utc[11 * 360], 0.0);
  // Offset 5 s: a bin straddles the hour edge and carries half a bin of the hour.
  const std::vector<double> shifted = hourly_density_table(w, 5.0);
  EXPECT_NEAR(shifted[12 * 360 - 1] * 3600, 0.5, 1e-12);
  EXPECT_NEAR(table_sum(shifted), 1.0, 1e-12);
}

TEST(BusiestWindow, FindsWrappingWindowAndUnalignedLength) {
  std::vector<double> rates(kBinCount, 0.0);
  rates[0] = 1.0;
  rates[kBinCount - 1] = 1.0;  // the busiest 20 s straddle midnight
  BusiestWindow w = busiest_window(rates, 20.0);
  EXPECT_NEAR(w.integral, 20.0, 1e-9);
  EXPECT_NEAR(w.start_s, kDay - 10.0, 1e-9);
  w = busiest_window(rates, 15.0);  // not a whole number of bins: 1.5 bins at most
  EXPECT_NEAR(w.integral, 15.0, 1e-9);
  EXPECT_EQ(rotate_table(rates, 1)[kBinCount - 2], 1.0);
  EXPECT_TRUE(bin_aligned(5.5 * 3600));
  EXPECT_FALSE(bin_aligned(1234.5));
}

}  // namespace
}  // namespace chatscale::sim::traffic_internal
