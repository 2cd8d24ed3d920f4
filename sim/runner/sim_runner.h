// The simulator's run: builds the SimGrid platform of a scenario, drives the sampled traffic through the
// shared message service over sim ports (database model, GPU clusters, recorder), and returns what the
// report writers need. One run per process: SimGrid's engine is a process singleton.
//
// Actors: one traffic actor (conversation starts), one actor per live conversation (its turns run the
// message service, with think time between them), one ticker (database replication, fleet gauges,
// metric snapshots, progress), one failure actor (the scenario's failures). Live actors stay in the
// tens of thousands at the sampling factors the README recommends.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"

namespace chatscale::sim {

class Recorder;
class DatabaseModel;

struct SimOptions {
  double sample_fraction = 0;          // 0: the scenario's simulation.sample_factor
  std::optional<std::uint64_t> seed;   // default: the scenario's
  double duration_s = 0;               // 0: the scenario's simulation.duration_s
  std::optional<double> start_hour;    // default: the scenario's simulation.start_hour (UTC)
  bool progress = false;               // progress lines on stderr
  std::size_t actor_stack_kib = 256;   // SimGrid context stack per actor
};

// Counters of one run, at full scale unless named otherwise.
struct SimCounts {
  double messages = 0;          // every message a user sent
  double ok = 0;                // answered (complete, or cut by output moderation)
  double content_filtered = 0;
  double rate_limited = 0;
  double moderated = 0;
  double invalid = 0;
  double failed = 0;            // overloaded, errors, deadlines
  double lost = 0;              // acknowledged and not stored
  double stored_bytes = 0;      // user messages and answers stored
  double sampled_messages = 0;  // tasks actually simulated
  double streams = 0;           // answer streams (sampled), and the seconds they stayed open
  double stream_seconds = 0;
  double conversations = 0;
};

// The GPU engines over the figures' window (after warm-up), summed over the simulated replicas.
struct FleetStats {
  int engines = 0;                 // simulated replicas
  double full_replicas = 0;        // replicas of the full-scale fleet
  int tensor_parallel = 1;
  double window_s = 0;
  std::int64_t iterations = 0;
  double busy_s = 0;               // engine-seconds spent in iterations
  std::int64_t decode_sequences = 0;
  std::int64_t generated_tokens = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t background_started = 0;
  std::int64_t background_refused = 0;
  std::int64_t kv_blocks_per_replica = 0;
  std::int32_t kv_block_tokens = 16;

  double mean_decode_batch() const { return iterations > 0 ? static_cast<double>(decode_sequences) / iterations : 0; }
  double mean_iteration_s() const { return iterations > 0 ? busy_s / static_cast<double>(iterations) : 0; }
  double utilization() const { return engines > 0 && window_s > 0 ? busy_s / (engines * window_s) : 0; }
  // Output tokens per GPU-second the engines produced over the window (at the load they saw).
  double tokens_per_gpu_s() const {
    return engines > 0 && window_s > 0 ? static_cast<double>(generated_tokens) / (engines * window_s * tensor_parallel) : 0;
  }
  // Output tokens per GPU-second an engine produces while busy at the batch it reached.
  double busy_tokens_per_gpu_s() const {
    return busy_s > 0 ? static_cast<double>(generated_tokens) / (busy_s * tensor_parallel) : 0;
  }
};

struct SimRun {
  double sample_fraction = 1;
  std::uint64_t seed = 1;
  double simulated_seconds = 0;   // the whole run, warm-up included
  double warmup_s = 0;            // the first seconds, excluded from the figures
  double window_end_s = 0;        // end of the traffic window (the run drains past it)
  double wall_seconds = 0;
  double start_utc_seconds = 0;   // UTC seconds of day 0 at simulated t = 0
  std::uint64_t events = 0;       // SimGrid activities and actor steps (approximate: timed waits)
  std::int64_t peak_live_actors = 0;
  SimCounts counts;
  std::vector<double> messages_per_s;   // full scale, one value per simulated second
  std::vector<double> egress_bytes_per_s;
  std::vector<double> active_streams;   // full scale, sampled once per simulated second
  FleetStats fleet;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<DatabaseModel> database;
  ~SimRun();
  SimRun();
  SimRun(SimRun&&) noexcept;
  SimRun& operator=(SimRun&&) noexcept;
};

Result<SimRun> run_simulation(const Scenario& scenario, const SimOptions& options);

}  // namespace chatscale::sim
