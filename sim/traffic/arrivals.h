// Arrivals of the sampled traffic: conversation starts as a non-homogeneous Poisson process over the
// diurnal profile, the think time between a reply and the next user message, message sizes and the
// moderation draws; and the expected-traffic arithmetic a report needs.
//
// The simulator runs a fraction f of the traffic. Conversations start at f x rate(t) / turns per second
// (rate: the full-scale message rate of the profile at the UTC time of day), each with a region drawn by
// the regions' instantaneous rates, a tier drawn by Tier::share (normalised) and a geometric number of
// turns with mean traffic.turns_per_conversation; the sampled message rate then follows f x rate(t),
// shifted by the length of a conversation (minutes).
//
// Ownership: every class here is a value owning its state (ArrivalGenerator copies the profile's table).
// Thread-safety: none; one owner (the runner's traffic actor). Failure behaviour: the create() factories
// return kInvalidArgument for parameters out of range; after that nothing fails.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"
#include "sim/traffic/diurnal_profile.h"
#include "sim/traffic/traffic_rng.h"

namespace chatscale::sim {

// UTC seconds since midnight of day 0 at the run start (simulation.start_hour).
double start_utc_seconds(const Scenario& scenario);

struct ConversationStart {
  double time_s = 0;  // simulated seconds since the run start
  int region = 0;     // index into scenario.regions
  int tier = 0;       // index into scenario.tiers
  int turns = 1;      // user messages in the conversation, >= 1
};

class ArrivalGenerator {
 public:
  // sample_fraction f in (0, 1]; start_utc_seconds: the UTC time (seconds since midnight of day 0) of
  // simulated time 0. Needs at least one tier with a positive share and turns_per_conversation >= 1.
  static Result<ArrivalGenerator> create(const DiurnalProfile& profile, const Scenario& scenario,
                                         double sample_fraction, std::uint64_t seed, double start_utc_seconds);

  // The next conversation start, in time order. Poisson arrivals invert the cumulative rate of the
  // profile's piecewise-constant table exactly; traffic.arrivals: uniform spaces them one unit of that
  // cumulative rate apart (a deterministic process with the same mean). O(1) amortised: a call walks
  // the 10 s bins it crosses.
  ConversationStart next();
  // Pause between the end of a reply and the next user message: exponential, mean
  // traffic.think_time_s. Its own random stream, so calling it does not change the arrivals.
  double think_time_s() { return think_rng_.exponential(think_time_mean_s_); }

  // Sampled conversation starts per second at simulated time t.
  double conversation_rate(double time_s) const;
  double sample_fraction() const { return sample_fraction_; }

 private:
  ArrivalGenerator(const DiurnalProfile& profile, const Scenario& scenario, double sample_fraction,
                   std::uint64_t seed, double start_utc_seconds);
  double bin_end_time() const;
  int draw_region(int bin);
  int draw_tier();
  int draw_turns();

  DiurnalProfile profile_;
  TrafficRng rng_;
  TrafficRng think_rng_;
  double sample_fraction_;
  double start_utc_s_;
  double scale_;               // f / turns: starts per full-scale message
  double continue_p_;          // 1 - 1 / turns: probability of one more turn
  double think_time_mean_s_;
  bool poisson_;
  std::vector<double> tier_cdf_;
  double time_s_ = 0;          // the last start
  std::int64_t abs_bin_ = 0;   // UTC bin (since midnight of day 0) holding time_s_
  double carry_ = 0;           // uniform process: cumulative rate left to the next start
};

// Message sizes and moderation draws of the traffic section, from their own seeded stream.
class MessageSizes {
 public:
  static Result<MessageSizes> create(const TrafficSpec& traffic, std::uint64_t seed);

  // Bytes of a user message / of an answer: a draw of the SizeSpec (fixed: the mean; exponential;
  // lognormal with the given mean, mu = ln(mean) - sigma^2 / 2), rounded, at least 1 (0 for mean 0).
  std::int64_t user_message_bytes() { return draw_bytes(traffic_.user_message); }
  std::int64_t answer_bytes() { return draw_bytes(traffic_.assistant_response); }
  // Tokens of a text of `bytes` bytes: ceil(bytes / bytes_per_token).
  std::int64_t tokens(std::int64_t bytes) const;
  double bytes_per_token() const { return traffic_.bytes_per_token; }
  // True with probability p (e.g. moderation.input_flag_rate).
  bool draw(double p) { return rng_.bernoulli(p); }

  std::int64_t draw_bytes(const SizeSpec& spec);

 private:
  MessageSizes(const TrafficSpec& traffic, std::uint64_t seed) : traffic_(traffic), rng_(seed) {}

  TrafficSpec traffic_;
  TrafficRng rng_;
};

// The full-scale traffic expected over simulated time [t0, t1) of a run starting at start_utc_seconds.
struct TrafficWindow {
  double messages = 0;                // full-scale messages in [t0, t1)
  double mean_rate_per_s = 0;         // messages / (t1 - t0)
  double max_rate_per_s = 0;          // highest rate of the profile's bins overlapping [t0, t1)
  double peak_window_rate_per_s = 0;  // the profile's busiest window mean (the reference's 69,444/s)
  double peak_window_share = 0;       // the share of the day it carries
  double peak_window_start_utc_s = 0;
  double daily_messages = 0;
};
TrafficWindow expected_traffic(const DiurnalProfile& profile, double start_utc_seconds, double t0, double t1);

}  // namespace chatscale::sim
