// A GPU cluster of the simulator behind the inference port: `simulated_replicas` model replicas, each
// an EngineReplica (the shared continuous-batching scheduler and KV block manager, iterations priced
// by the calibrated IterationTimeModel) driven by an engine actor of its own: plan an iteration, sleep
// its predicted duration, apply it, wake the streams it advanced.
//
// Sampling. The simulator follows a sample f of the messages, but each engine must see the load of a
// full-scale replica, or batches (and so iteration times and first-token latency) would be f times too
// small. A cluster of R full-scale replicas receives f x its full-scale traffic; it simulates
// m = max(min_replicas, ceil(R f)) replicas and adds, for each sampled request, a Poisson number of
// background requests with mean b = m / (R f) - 1, so that each simulated engine receives, on average,
// exactly a full-scale replica's traffic: (1 + b) f lambda / m = lambda / R. Background requests draw their sizes from the same distributions, arrive spread
// over the sampled stream's mean gap, occupy batch slots and KV blocks, and are otherwise untracked.
// Requests reach the simulated replica with the fewest live requests (the gateway's least-loaded pick
// within a cluster).
//
// Streaming is aggregated (ARCHITECTURE.md): the first token as soon as its prefill completes, then a
// delta every `chunk_s` carrying the tokens generated since, then done when the answer ends. The
// answer's length and whether it trips output moderation are drawn here (the backend is the model).
// A stream wakes only at its own events (first token, chunk, end), never per iteration.
//
// Spawner: how the cluster starts its engine actors (SimGrid actors in the runner). Ownership: copies
// the shape, borrows the clock and time model; owns its engines, streams' shared state and size draws.
// Thread-safety: one simulation thread (SimGrid runs one actor at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "gpu/iteration_time_model.h"
#include "gpu/shapes.h"
#include "ports/clock.h"
#include "ports/inference.h"
#include "sim/fleet/engine_replica.h"
#include "sim/traffic/arrivals.h"
#include "sim/traffic/traffic_rng.h"

namespace chatscale::sim {

using Spawner = std::function<void(const std::string& name, std::function<void()> body)>;

struct GpuClusterConfig {
  std::string name;
  std::string region;
  double full_replicas = 1;       // model replicas of the full-scale fleet in this cluster
  int simulated_replicas = 1;     // engines simulated (see the header comment)
  double background_per_request = 0;  // b: background requests per sampled request
  EngineReplicaConfig engine;
  double chunk_s = 10;            // longest generation carried by one aggregated delta
  double wire_bytes_per_answer_byte = 1.5;  // SSE framing: stream bytes / answer bytes
  double output_flag_rate = 0;
  std::map<std::string, int, std::less<>> tier_priority;  // scheduling priority by tier name
  std::uint64_t seed = 1;
};

// The simulated replicas and background rate for a cluster of `full_replicas` at sample `f`.
struct ReplicaSampling {
  int simulated_replicas = 1;
  double background_per_request = 0;
};
ReplicaSampling replica_sampling(double full_replicas, double f, int min_replicas);

// What the engines of a cluster have done so far (full-scale estimates scale by full/simulated).
struct ClusterCounters {
  EngineCounters engines;          // summed over the simulated replicas
  std::int64_t background_started = 0;
  std::int64_t background_refused = 0;
  std::int64_t refused = 0;        // sampled requests refused (queue full or down)
};

class SimGpuCluster : public InferenceBackend {
 public:
  SimGpuCluster(Clock& clock, Spawner spawner, GpuClusterConfig config, const ModelShape& shape,
                const IterationTimeModel& model, MessageSizes sizes);
  ~SimGpuCluster() override;

  const std::string& name() const override { return config_.name; }
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  // Failure injection: a cluster that is down refuses new work and fails its running streams.
  void set_down(bool down);
  bool down() const { return down_; }
  // Ends the engine actors at their next wake-up (the simulation is over).
  void stop();

  // Gauges over the simulated engines, scaled to the full-scale cluster.
  double running() const;
  double waiting() const;
  double kv_usage() const;  // mean over the engines
  ClusterCounters counters() const;
  double scale() const { return config_.full_replicas / config_.simulated_replicas; }
  const GpuClusterConfig& config() const { return config_; }

 private:
  friend class SimGpuStream;
  struct Track;     // a sampled request's progress, shared by its stream and the engine
  struct Engine;    // one replica, its actor's wake-up signal and pending background arrivals

  void engine_loop(Engine& engine);
  void admit_background(Engine& engine, double now);
  void spawn_background(const InferenceRequest& request, double now);
  Engine& least_loaded();
  Status enqueue(Engine& engine, const Scheduler::Request& request, double now);
  void apply(Engine& engine, const IterationOutcome& outcome);
  void forget(Track& track);
  std::int64_t draw_answer_tokens(std::int64_t max_tokens, bool& truncated);

  Clock& clock_;
  Spawner spawner_;
  GpuClusterConfig config_;
  const ModelShape shape_;  // a copy: callers often pass a temporary
  const IterationTimeModel& model_;
  MessageSizes sizes_;
  TrafficRng rng_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::unordered_map<RequestId, Track*> tracks_;  // live sampled requests
  RequestId next_id_ = 1;
  double last_start_ = -1;
  double mean_gap_s_ = 0;   // EWMA of the gap between sampled starts: background arrivals spread over it
  std::vector<std::int64_t> recent_prompts_;  // prompt sizes of recent sampled requests, for background ones
  std::size_t recent_next_ = 0;
  ClusterCounters counters_;
  bool down_ = false;
  bool stopped_ = false;
  std::uint64_t epoch_ = 0;  // bumped when the cluster goes down: streams of older epochs fail
};

}  // namespace chatscale::sim
