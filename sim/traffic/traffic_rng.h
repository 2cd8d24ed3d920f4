// The random draws of the traffic model over std::mt19937_64, written out here (not with the
// <random> distributions, whose algorithms differ between standard libraries) so that a seed gives the
// same traffic everywhere.
//
// Ownership: a value owning its engine. Thread-safety: none; one owner. Failure behaviour: none.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace chatscale::sim {

// A well-mixed seed for stream `stream` of a run seeded `seed` (splitmix64 of the pair), so the
// arrival, think-time and size streams of one seed are independent.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class TrafficRng {
 public:
  explicit TrafficRng(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Exponential with the given mean (inversion; 1 - u is in (0, 1]).
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  bool bernoulli(double p) { return uniform() < p; }
  // A Poisson count of the given mean: Knuth's product of uniforms below 30, a rounded normal above.
  std::int64_t poisson(double mean) {
    if (!(mean > 0)) return 0;
    if (mean >= 30) return std::max<std::int64_t>(0, std::llround(mean + std::sqrt(mean) * normal()));
    const double limit = std::exp(-mean);
    std::int64_t k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace chatscale::sim
