#include "sim/db/queueing.h"

#include <limits>

#include <algorithm>
#include <cmath>

namespace chatscale::sim {

double erlang_c(int servers, double offered_load) {
  if (servers < 1) servers = 1;
  if (!(offered_load > 0)) return 0;
  const double c = servers;
  if (offered_load >= c) return 1;
  // Erlang B by its stable recursion, then Erlang C from it.
  double b = 1;
  for (int k = 1; k <= servers; ++k) b = offered_load * b / (k + offered_load * b);
  return c * b / (c - offered_load * (1 - b));
}

RateEstimator::RateEstimator(double window_s) : window_s_(window_s > 0 ? window_s : 1e-9) {}

void RateEstimator::decay_to(double now) {
  double dt = now - at_;
  if (dt <= 0) return;
  double e = std::exp(-dt / window_s_);
  acc_ *= e;
  acc2_ *= e * e;
  count_ *= e;
  at_ = now;
}

void RateEstimator::add(double amount, double now) {
  decay_to(now);
  acc_ += amount;
  acc2_ += amount * amount;
  count_ += 1;
}

double RateEstimator::rate(double now) const {
  double dt = now - at_;
  return (dt > 0 ? acc_ * std::exp(-dt / window_s_) : acc_) / window_s_;
}

double RateEstimator::noise(double now) const {
  double dt = now - at_;
  double acc2 = dt > 0 ? acc2_ * std::exp(-2 * dt / window_s_) : acc2_;
  return std::sqrt(acc2) / window_s_;
}

double RateEstimator::arrivals_per_s(double now) const {
  double dt = now - at_;
  return (dt > 0 ? count_ * std::exp(-dt / window_s_) : count_) / window_s_;
}

double RateEstimator::advance(double now) {
  double before = acc_;
  decay_to(now);
  return before - acc_;
}

void RateEstimator::adapt_window(const RateWindow& window, double now) {
  decay_to(now);
  double per_s = count_ / window_s_;
  double wanted = per_s > 0 ? window.samples / per_s : window.max_s;
  double next = std::clamp(wanted, window.min_s, std::max(window.min_s, window.max_s));
  // Keep the rate, arrival rate and noise estimates continuous: the window's contents scale with it.
  double scale = next / window_s_;
  acc_ *= scale;
  acc2_ *= scale;
  count_ *= scale;
  window_s_ = next;
}

FluidQueue::FluidQueue(double capacity_per_s, double window_s, double overload_sigmas)
    : capacity_(capacity_per_s > 0 ? capacity_per_s : 1e-9),
      overload_sigmas_(overload_sigmas),
      inflow_(window_s) {}

void FluidQueue::advance(double now) {
  double dt = now - at_;
  if (dt <= 0) return;
  // Grow only on a significant overload (see the header); draining needs no gate.
  bool overloaded = inflow_.rate(now) - capacity_ > overload_sigmas_ * inflow_.noise(now);
  double inflow = inflow_.advance(now);
  double net = inflow - capacity_ * dt;
  if (net > 0 && !overloaded) net = 0;
  backlog_ = std::max(0.0, backlog_ + net);
  double bound = capacity_ * patience_s_ * kServedShare;
  if (backlog_ > bound) {
    // What does not fit leaves: the share of this interval's inflow that times out.
    abandon_p_ = std::min(1.0, (backlog_ - bound) / std::max(inflow, 1e-12));
    backlog_ = bound;
  } else {
    abandon_p_ = 0;
  }
  at_ = now;
}

void FluidQueue::offer(double amount, double now) {
  advance(now);
  inflow_.add(amount, now);
}

MultiServerQueue::MultiServerQueue(double workers, double window_s, double overload_sigmas)
    : busy_(workers, window_s, overload_sigmas),
      statements_(window_s),
      servers_(std::max(1, static_cast<int>(std::lround(workers)))) {}

void MultiServerQueue::offer(double busy_s, double statements, double now) {
  busy_.offer(busy_s, now);
  statements_.add(statements, now);
}

void MultiServerQueue::adapt_window(const RateWindow& window, double now) {
  busy_.adapt_window(window, now);
  statements_.adapt_window(window, now);
}

double MultiServerQueue::mean_service_s(double now, double fallback) const {
  double n = statements_.rate(now);
  return n > 0 ? busy_.rate(now) / n : fallback;
}

double MultiServerQueue::wait_probability(double rho) {
  if (std::abs(rho - cached_rho_) > 0.001) {
    cached_rho_ = rho;
    cached_c_ = erlang_c(servers_, servers_ * rho);
  }
  return cached_c_;
}

double MultiServerQueue::draw_wait(double now, double fallback_service_s, std::mt19937_64& rng) {
  busy_.advance(now);
  if (busy_.abandon_probability() > 0) {
    std::uniform_real_distribution<double> abandon(0.0, 1.0);
    if (abandon(rng) < busy_.abandon_probability()) return std::numeric_limits<double>::infinity();
  }
  double rho = std::min(busy_.utilisation(now), kMaxStationaryUtilisation);
  double wait = busy_.drain_s();
  double p = wait_probability(rho);
  if (p <= 0) return wait;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  if (uniform(rng) >= p) return wait;
  double mean = mean_service_s(now, fallback_service_s) / (servers_ * (1 - rho));
  if (!(mean > 0)) return wait;
  std::exponential_distribution<double> exponential(1.0 / mean);
  return wait + exponential(rng);
}

double MultiServerQueue::mean_wait(double now, double fallback_service_s) {
  busy_.advance(now);
  double rho = std::min(busy_.utilisation(now), kMaxStationaryUtilisation);
  double mean = mean_service_s(now, fallback_service_s) / (servers_ * (1 - rho));
  return busy_.drain_s() + wait_probability(rho) * mean;
}

}  // namespace chatscale::sim
