// RunInfo: what every report writer needs to know about one simulator run besides the recorded series.
// Plain value; no state, no I/O.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace chatscale::sim {

// 2026-01-05 00:00:00 UTC, a Monday: the real-world day that simulated day 0 maps to.
inline constexpr double kDayZeroEpochSeconds = 1'767'571'200.0;

// The Unix time of simulated t = 0 for a run starting at `start_hour` UTC of day 0.
constexpr double start_epoch_for_hour(double start_hour) { return kDayZeroEpochSeconds + start_hour * 3600.0; }

struct RunInfo {
  std::string scenario;
  double sample_fraction = 1.0;  // f: the fraction of messages simulated as tasks
  std::uint64_t seed = 1;
  double simulated_seconds = 0;
  double wall_seconds = 0;
  std::uint64_t events = 0;  // simulated messages (or engine events) processed
  double start_epoch_seconds = start_epoch_for_hour(17.0);  // the scenario's default start hour
  std::string mode = "sim";  // the constant `mode` label of every exported series

  // Seconds since midnight UTC at simulated t = 0: the offset of time-of-day axes.
  double time_of_day_offset_s() const {
    double r = std::fmod(start_epoch_seconds, 86'400.0);
    return r < 0 ? r + 86'400.0 : r;
  }
};

}  // namespace chatscale::sim
