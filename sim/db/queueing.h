// Queueing building blocks of the simulated database, at FULL scale.
//
// The simulator runs a fraction f of the messages, but a shared server (the PostgreSQL primary, a
// replica, the WAL writer) must see the whole load. So every sampled arrival is offered here already
// scaled to full scale (1/f statements, 1/f x busy time, 1/f x WAL bytes), and these classes turn that
// lumpy stream into a smooth full-scale arrival rate; the waits follow from the rate, never from the
// lumps themselves (an M/M/1 fed 1/f-sized lumps would show waits that grow with 1/f: wrong).
//
// - RateEstimator: an exponentially weighted moving average of the arrivals (a sliding window with an
//   exponential kernel of time constant `window`): rate = sum of amounts x exp(-(now - t_i)/window) /
//   window. O(1) per arrival. With a fixed window it conserves mass: over time it delivers exactly the
//   amounts added (a window change rescales the window's contents so that the rate stays continuous). It also
//   estimates its own noise: for Poisson arrivals Var(rate) = sum of amount^2 x exp(-2(now - t_i)/window)
//   / window^2, i.e. a relative error of about 1/sqrt(2 n) with n sampled arrivals per window.
// - Window. A fixed window is too noisy for a server that sees few sampled arrivals (a replica at
//   f = 0.001) and too slow for one that sees many. adapt_window (called each tick) sets it to hold
//   about RateWindow::samples sampled arrivals, within [min_s, max_s]; a new estimator starts at min_s.
// - FluidQueue: one resource of fixed capacity (units per second) fed by that smoothed rate. Its backlog
//   grows at (rate - capacity) while the rate exceeds capacity and drains at capacity afterwards; the
//   drain time backlog / capacity is the extra wait of an arrival. Never capped: a saturated server's
//   wait keeps growing for as long as the overload lasts. Noise gate: the backlog grows only while the
//   overload is significant, rate - capacity > overload_sigmas x noise. Without it a server near
//   capacity would integrate the sampling noise (whose variance is 1/f times the real arrivals') into a
//   spurious backlog that grows as f shrinks: 185x the M/M/c wait at rho = 0.97 and f = 0.001 in the
//   tests. The price: an overload smaller than ~overload_sigmas x noise (a few % on a busy server) is not
//   resolved as backlog (it still shows as Erlang C waits at rho ~1).
//
// Ownership: plain values. Thread-safety: none; each instance belongs to one model (one SimGrid thread).
// Failure behaviour: times that go backwards are treated as no time passing; non-positive capacities
// are raised to a tiny positive value by the caller's validation (DatabaseModel::create).
#pragma once

#include <limits>
#include <random>

namespace chatscale::sim {

// Utilisation above which Erlang C is evaluated at this bound (the fluid backlog takes over).
inline constexpr double kMaxStationaryUtilisation = 0.995;

// Probability that an arrival waits in an M/M/c queue with `servers` servers and `offered_load`
// Erlangs (a = lambda x s). 1 when offered_load >= servers. O(servers).
double erlang_c(int servers, double offered_load);

// How the rate window adapts (see the header comment).
struct RateWindow {
  double min_s = 5;        // also the initial window
  double max_s = 120;
  double samples = 1000;   // sampled arrivals a window should hold (relative noise ~ 1/sqrt(2 x samples))
};

class RateEstimator {
 public:
  explicit RateEstimator(double window_s);

  // Adds `amount` (full-scale units) arriving at `now`: one sampled arrival.
  void add(double amount, double now);
  // The smoothed rate at `now`, in units per second.
  double rate(double now) const;
  // Standard deviation of rate(now) (Poisson arrivals of the recent amounts).
  double noise(double now) const;
  // Sampled arrivals (add calls) per second, smoothed the same way.
  double arrivals_per_s(double now) const;
  // Moves to `now` and returns what the smoothed stream delivered since the previous call: the integral
  // of rate(t) over that interval.
  double advance(double now);
  // Sets the window to hold window.samples arrivals at the current arrival rate, within its bounds, and
  // scales the window's contents by new/old so that rate, noise and arrivals_per_s stay continuous.
  void adapt_window(const RateWindow& window, double now);
  double window_s() const { return window_s_; }

 private:
  void decay_to(double now);

  double window_s_;
  double acc_ = 0;   // amount in the window: rate = acc_ / window_s_
  double acc2_ = 0;  // sum of amount^2, decaying twice as fast: Var(rate) = acc2_ / window_s_^2
  double count_ = 0; // arrivals in the window
  double at_ = 0;    // time of the accumulators
};

class FluidQueue {
 public:
  FluidQueue(double capacity_per_s, double window_s, double overload_sigmas = 2.5);

  // Integrates the backlog to `now`, then adds the arrival to the rate.
  void offer(double amount, double now);
  // Integrates the backlog to `now`: backlog += inflow - capacity x elapsed, never below zero.
  void advance(double now);
  double rate(double now) const { return inflow_.rate(now); }
  double utilisation(double now) const { return inflow_.rate(now) / capacity_; }
  double backlog() const { return backlog_; }
  double drain_s() const { return backlog_ / capacity_; }
  double capacity() const { return capacity_; }
  void adapt_window(const RateWindow& window, double now) { inflow_.adapt_window(window, now); }
  // Abandonment: work that would wait longer than `seconds` is cancelled (a statement or pool timeout),
  // so the backlog holds at most kServedShare x seconds of work and the rest of the inflow leaves. While
  // the backlog sits at that bound, abandon_probability() is the share of arrivals that time out.
  void set_patience(double seconds) { patience_s_ = seconds; }
  double abandon_probability() const { return abandon_p_; }
  static constexpr double kServedShare = 0.9;

 private:
  double capacity_;
  double overload_sigmas_;
  RateEstimator inflow_;
  double backlog_ = 0;
  double at_ = 0;
  double patience_s_ = std::numeric_limits<double>::infinity();
  double abandon_p_ = 0;
};

class MultiServerQueue {
 public:
  // `workers`: busy-seconds done per second (capacity in statements/s x service time).
  MultiServerQueue(double workers, double window_s, double overload_sigmas = 2.5);

  // Offers `busy_s` seconds of work from `statements` statements (both full scale) at `now`.
  void offer(double busy_s, double statements, double now);
  void advance(double now) { busy_.advance(now); }
  void adapt_window(const RateWindow& window, double now);
  void set_patience(double seconds) { busy_.set_patience(seconds); }
  double utilisation(double now) const { return busy_.utilisation(now); }
  double backlog_drain_s() const { return busy_.drain_s(); }
  int servers() const { return servers_; }
  // Mean service time of the recent arrivals; `fallback` when there were none.
  double mean_service_s(double now, double fallback) const;
  // One arrival's waiting time (see the header comment), drawn from `rng`; +infinity for an arrival
  // that abandons (times out) while the backlog is at its patience bound.
  double draw_wait(double now, double fallback_service_s, std::mt19937_64& rng);
  // Its expectation.
  double mean_wait(double now, double fallback_service_s);

 private:
  // Erlang C at the current utilisation, recomputed only when rho moved by more than 0.001.
  double wait_probability(double rho);

  FluidQueue busy_;
  RateEstimator statements_;
  int servers_;
  double cached_rho_ = -1;
  double cached_c_ = 0;
};

}  // namespace chatscale::sim
