// A GPU cluster of the simulator behind the inference port: until the continuous-batching fleet model
// lands (issue 4), a service-time server. The cluster holds `slots` concurrent sequences (model
// replicas x max batch, at the sampled scale); a request waits FIFO for a slot (bounded queue: overflow
// is refused as Unavailable, the gateway's 503), then gets its first token after the network round trip
// and the prefill, and its answer at the decode rate. Times come from a roofline over the model shape:
//   decode step  = (weight bytes per GPU + batch x context x KV bytes per token per GPU) / HBM bandwidth
//   prefill      = 2 x parameters x prompt tokens / (TP x dense FLOP/s x efficiency)
// Streaming is aggregated: the first token, then chunks of at most `chunk_s` of generation, then done.
// The answer's length and whether it trips output moderation are drawn here (the backend is the model).
//
// No SimGrid: waits go through the Clock port, so tests drive it with a ManualClock. Thread-safety:
// one simulation thread. Ownership: borrows the clock; owns its queue.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "ports/clock.h"
#include "ports/inference.h"
#include "scenario/scenario.h"
#include "sim/traffic/traffic_rng.h"

namespace chatscale::sim {

struct GpuTimingModel {
  double hbm_bytes_per_s = 3.008e12;   // measured device copy bandwidth (calibration/h100-llama3-8b.json)
  double dense_flops = 782.2e12;       // measured bf16 GEMM (same profile)
  double memory_efficiency = 0.8;      // assumption: share of copy bandwidth a decode step reaches
  double compute_efficiency = 0.6;     // assumption: share of GEMM FLOP/s a prefill reaches
  double weight_bytes_per_gpu = 0;
  double kv_bytes_per_token_per_gpu = 0;
  double parameters = 0;
  double tensor_parallel = 1;

  static GpuTimingModel from(const ModelSpec& model);
  double decode_step_s(double batch, double context_tokens) const;
  double prefill_s(double prompt_tokens) const;
};

struct GpuClusterConfig {
  std::string name;
  std::string region;
  double replicas = 1;            // model replicas at the sampled scale (fractional is fine)
  std::int64_t slots = 1;         // concurrent sequences at the sampled scale
  std::int64_t max_waiting = 1;   // queued requests at the sampled scale
  double network_rtt_s = 0;       // gateway <-> cluster round trip
  double chunk_s = 10;            // longest generation carried by one aggregated delta
  double answer_bytes_mean = 500;
  SizeDistribution answer_distribution = SizeDistribution::kLognormal;
  double answer_sigma = 1.0;
  double bytes_per_token = 4;
  double wire_bytes_per_answer_byte = 1.5;  // SSE framing: stream_bytes / answer bytes
  double output_flag_rate = 0;
  std::uint64_t seed = 1;
};

class SimGpuCluster : public InferenceBackend {
 public:
  SimGpuCluster(Clock& clock, GpuClusterConfig config, GpuTimingModel timing);
  ~SimGpuCluster() override;

  const std::string& name() const override { return config_.name; }
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  // Failure injection: a cluster that is down refuses new work and fails its running streams.
  void set_down(bool down);
  bool down() const { return down_; }

  std::int64_t running() const { return running_; }
  std::int64_t waiting() const { return static_cast<std::int64_t>(queue_.size()); }
  double utilization() const;
  const GpuClusterConfig& config() const { return config_; }

 private:
  friend class SimGpuStream;
  struct Waiter;
  void release_slot();
  void admit_next();

  Clock& clock_;
  GpuClusterConfig config_;
  GpuTimingModel timing_;
  TrafficRng rng_;
  std::int64_t running_ = 0;
  std::deque<std::shared_ptr<Waiter>> queue_;
  bool down_ = false;
  std::uint64_t epoch_ = 0;  // bumped when the cluster goes down: streams of older epochs fail
};

}  // namespace chatscale::sim
