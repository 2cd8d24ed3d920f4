// Helpers of the sim/db tests: a two-region scenario and a Poisson load driver.
#pragma once

#include <memory>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "scenario/scenario.h"
#include "sim/db/database_model.h"

namespace chatscale::sim::testing_util {

// "east" (index 0, the primary, 1 replica) and "west" (index 1, 2 replicas), 40 ms apart one way, 1 ms
// within a region. Database defaults otherwise (commit 2 ms, read 1 ms, 50k tx/s, 200 MB/s replay).
inline Scenario two_regions() {
  Scenario s;
  s.regions = {RegionSpec{"east", "a", 0, 0.5, 1, 1}, RegionSpec{"west", "b", 0, 0.5, 1, 2}};
  s.network.latency_ms = {{1, 40}, {40, 1}};
  s.database.primary_region = "east";
  s.simulation.seed = 42;
  return s;
}

inline std::unique_ptr<DatabaseModel> make_model(const Scenario& s, double f, MetricsSink& metrics,
                                                 DatabaseModelOptions options = {}) {
  auto r = DatabaseModel::create(s, f, metrics, options);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

struct Timed {
  double t;
  double latency_s;
};

// Offers a full-scale Poisson load to a model, sampled at the model's fraction f (each event stands for
// 1/f), ticking the model at every whole second, as the runner does.
class Driver {
 public:
  Driver(DatabaseModel& model, std::uint64_t seed) : model_(model), rng_(seed) {}

  // Until `until`: transactions of `rows` rows at `tps`, and single-statement reads without a token at
  // `reads_per_s`, all from `region`. Returns the writes' (time, latency).
  std::vector<Timed> run(double tps, double rows, double until, double reads_per_s = 0, int region = 1) {
    std::vector<Timed> writes;
    const double f = model_.sample_fraction();
    std::exponential_distribution<double> gap((tps + reads_per_s) * f);
    std::uniform_real_distribution<double> kind(0, tps + reads_per_s);
    for (double t = now_ + gap(rng_); t < until; t += gap(rng_)) {
      tick_until(t);
      if (kind(rng_) < tps) {
        auto w = model_.write(region, rows, t);
        EXPECT_TRUE(w.is_ok()) << w.status().to_string();
        if (w.is_ok()) writes.push_back({t, w->latency_s});
      } else {
        auto r = model_.read(region, ReadToken{}, t);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      }
    }
    tick_until(until);
    now_ = until;
    return writes;
  }

  void tick_until(double t) {
    for (; next_tick_ <= t; next_tick_ += 1) model_.tick(next_tick_);
  }

 private:
  DatabaseModel& model_;
  std::mt19937_64 rng_;
  double now_ = 0;
  double next_tick_ = 1;
};

inline double mean_latency(const std::vector<Timed>& v, double from, double to) {
  double sum = 0;
  int n = 0;
  for (const Timed& x : v) {
    if (x.t >= from && x.t < to) {
      sum += x.latency_s;
      ++n;
    }
  }
  return n > 0 ? sum / n : 0;
}

inline double lag_of(const DatabaseModel& m, std::string_view name) {
  for (const ReplicaStatus& r : m.replicas()) {
    if (r.name == name) return r.lag_s;
  }
  ADD_FAILURE() << "no replica " << name;
  return -1;
}

}  // namespace chatscale::sim::testing_util
