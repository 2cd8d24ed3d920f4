#include "sim/traffic/arrivals.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>

namespace chatscale::sim {
namespace {

constexpr std::uint64_t kArrivalStream = 0;
constexpr std::uint64_t kThinkStream = 1;
constexpr double kBin = DiurnalProfile::kBinSeconds;

std::int64_t bin_index(std::int64_t abs_bin) {
  const std::int64_t n = DiurnalProfile::kBins;
  return ((abs_bin % n) + n) % n;
}

Status validate_size(const SizeSpec& spec, const char* name) {
  if (!(spec.mean_bytes >= 0) || !std::isfinite(spec.mean_bytes)) {
    return invalid_argument(std::string("traffic.") + name + ".mean_bytes must be finite and >= 0");
  }
  if (!(spec.sigma >= 0) || !std::isfinite(spec.sigma)) {
    return invalid_argument(std::string("traffic.") + name + ".sigma must be finite and >= 0");
  }
  return Status::ok();
}

}  // namespace

double start_utc_seconds(const Scenario& scenario) { return scenario.simulation.start_hour * 3600.0; }

Result<ArrivalGenerator> ArrivalGenerator::create(const DiurnalProfile& profile, const Scenario& scenario,
                                                  double sample_fraction, std::uint64_t seed,
                                                  double start_utc_seconds) {
  if (!(sample_fraction > 0 && sample_fraction <= 1)) {
    return invalid_argument("sample fraction must be in (0, 1], got " + std::to_string(sample_fraction));
  }
  if (!std::isfinite(start_utc_seconds)) return invalid_argument("start time must be finite");
  const TrafficSpec& t = scenario.traffic;
  if (!(t.turns_per_conversation >= 1) || !std::isfinite(t.turns_per_conversation)) {
    return invalid_argument("traffic.turns_per_conversation must be >= 1");
  }
  if (!(t.think_time_s >= 0) || !std::isfinite(t.think_time_s)) {
    return invalid_argument("traffic.think_time_s must be finite and >= 0");
  }
  double tier_sum = 0;
  for (const Tier& tier : scenario.tiers) {
    if (!(tier.share >= 0) || !std::isfinite(tier.share)) return invalid_argument("tier " + tier.name + ": bad share");
    tier_sum += tier.share;
  }
  if (!(tier_sum > 0)) return invalid_argument("rate_limits.tiers: needs a tier with a positive share");
  if (profile.region_count() != scenario.regions.size()) {
    return invalid_argument("the profile was built for another scenario (region count differs)");
  }
  return ArrivalGenerator(profile, scenario, sample_fraction, seed, start_utc_seconds);
}

ArrivalGenerator::ArrivalGenerator(const DiurnalProfile& profile, const Scenario& scenario, double sample_fraction,
                                   std::uint64_t seed, double start_utc_seconds)
    : profile_(profile),
      rng_(derive_seed(seed, kArrivalStream)),
      think_rng_(derive_seed(seed, kThinkStream)),
      sample_fraction_(sample_fraction),
      start_utc_s_(start_utc_seconds),
      scale_(sample_fraction / scenario.traffic.turns_per_conversation),
      continue_p_(1.0 - 1.0 / scenario.traffic.turns_per_conversation),
      think_time_mean_s_(scenario.traffic.think_time_s),
      poisson_(scenario.traffic.arrivals == ArrivalProcess::kPoisson) {
  double sum = 0;
  for (const Tier& tier : scenario.tiers) sum += tier.share;
  double acc = 0;
  for (const Tier& tier : scenario.tiers) {
    acc += tier.share / sum;
    tier_cdf_.push_back(acc);
  }
  tier_cdf_.back() = 1.0;
  abs_bin_ = static_cast<std::int64_t>(std::floor(start_utc_seconds / kBin));
  carry_ = rng_.uniform();  // the uniform process starts at a random phase
}

double ArrivalGenerator::bin_end_time() const {
  return static_cast<double>(abs_bin_ + 1) * kBin - start_utc_s_;
}

double ArrivalGenerator::conversation_rate(double time_s) const {
  return scale_ * profile_.rate(start_utc_s_ + time_s);
}

ConversationStart ArrivalGenerator::next() {
  // The cumulative rate to cover before the next start: Exp(1) for Poisson, 1 for uniform spacing.
  double budget = poisson_ ? rng_.exponential(1.0) : std::exchange(carry_, 1.0);
  for (;;) {
    const int bin = static_cast<int>(bin_index(abs_bin_));
    const double lambda = scale_ * profile_.bin_rate(bin);
    const double end = bin_end_time();
    const double room = lambda * (end - time_s_);
    if (room > budget) {
      time_s_ = std::min(time_s_ + budget / lambda, end);
      ConversationStart start;
      start.time_s = time_s_;
      start.region = draw_region(bin);
      start.tier = draw_tier();
      start.turns = draw_turns();
      return start;
    }
    budget -= room;
    time_s_ = end;
    ++abs_bin_;
  }
}

int ArrivalGenerator::draw_region(int bin) {
  const double* rates = profile_.bin_region_rates(bin);
  const std::size_t n = profile_.region_count();
  double u = rng_.uniform() * profile_.bin_rate(bin);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (u < rates[i]) return static_cast<int>(i);
    u -= rates[i];
  }
  // The last region with traffic in this bin (rounding can leave u just past the sum).
  for (std::size_t i = n; i-- > 0;) {
    if (rates[i] > 0) return static_cast<int>(i);
  }
  return static_cast<int>(n - 1);
}

int ArrivalGenerator::draw_tier() {
  const double u = rng_.uniform();
  const auto it = std::upper_bound(tier_cdf_.begin(), tier_cdf_.end(), u);
  return static_cast<int>(std::min<std::ptrdiff_t>(it - tier_cdf_.begin(), std::ssize(tier_cdf_) - 1));
}

int ArrivalGenerator::draw_turns() {
  if (continue_p_ <= 0) return 1;
  // Geometric on {1, 2, ...} with mean 1 / (1 - continue_p): 1 + floor(ln U / ln continue_p).
  const double extra = std::floor(std::log(1.0 - rng_.uniform()) / std::log(continue_p_));
  return static_cast<int>(std::min(1.0 + extra, static_cast<double>(INT_MAX)));
}

Result<MessageSizes> MessageSizes::create(const TrafficSpec& traffic, std::uint64_t seed) {
  CS_RETURN_IF_ERROR(validate_size(traffic.user_message, "user_message"));
  CS_RETURN_IF_ERROR(validate_size(traffic.assistant_response, "assistant_response"));
  if (!(traffic.bytes_per_token > 0) || !std::isfinite(traffic.bytes_per_token)) {
    return invalid_argument("traffic.bytes_per_token must be > 0");
  }
  return MessageSizes(traffic, seed);
}

std::int64_t MessageSizes::draw_bytes(const SizeSpec& spec) {
  if (spec.mean_bytes <= 0) return 0;
  double bytes = spec.mean_bytes;
  switch (spec.distribution) {
    case SizeDistribution::kFixed:
      break;
    case SizeDistribution::kExponential:
      bytes = rng_.exponential(spec.mean_bytes);
      break;
    case SizeDistribution::kLognormal: {
      const double mu = std::log(spec.mean_bytes) - 0.5 * spec.sigma * spec.sigma;
      bytes = std::exp(mu + spec.sigma * rng_.normal());
      break;
    }
  }
  return std::max<std::int64_t>(1, std::llround(std::min(bytes, 1e15)));
}

std::int64_t MessageSizes::tokens(std::int64_t bytes) const {
  if (bytes <= 0) return 0;
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(bytes) / traffic_.bytes_per_token));
}

TrafficWindow expected_traffic(const DiurnalProfile& profile, double start_utc_seconds, double t0, double t1) {
  TrafficWindow w;
  w.daily_messages = profile.daily_messages();
  w.peak_window_rate_per_s = profile.peak_rate();
  w.peak_window_share = profile.peak_window_share();
  w.peak_window_start_utc_s = profile.busiest_window_start();
  if (!(t1 > t0)) return w;
  w.messages = profile.messages_between(start_utc_seconds + t0, start_utc_seconds + t1);
  w.mean_rate_per_s = w.messages / (t1 - t0);
  const auto first = static_cast<std::int64_t>(std::floor((start_utc_seconds + t0) / kBin));
  const auto last = static_cast<std::int64_t>(std::ceil((start_utc_seconds + t1) / kBin));
  const std::int64_t count = std::min<std::int64_t>(last - first, DiurnalProfile::kBins);
  for (std::int64_t b = first; b < first + count; ++b) {
    w.max_rate_per_s = std::max(w.max_rate_per_s, profile.bin_rate(static_cast<int>(bin_index(b))));
  }
  return w;
}

}  // namespace chatscale::sim
