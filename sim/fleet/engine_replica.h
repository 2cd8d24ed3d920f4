// One simulated model replica (a tensor-parallel group of GPUs running one inference engine): the
// shared continuous-batching Scheduler decides each iteration's composition, and the calibrated
// IterationTimeModel prices it. No clock and no SimGrid: the caller (SimGpuCluster's engine actor)
// asks for an iteration at `now`, sleeps its duration, and applies it; tests drive it directly.
//
//   auto dt = replica.begin_iteration(now);      // nullopt: idle
//   ... sleep dt ...
//   auto sampled = replica.end_iteration(now + *dt);
//
// Ownership: owns its scheduler and a copy of the shape; borrows the time model (it must outlive it).
// Thread-safety: none; one engine actor owns a replica. Failure: enqueue refusals are Status values
// (Unavailable: waiting queue full; InvalidArgument: a request that can never fit).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "gpu/iteration_time_model.h"
#include "gpu/shapes.h"
#include "scheduler/scheduler.h"

namespace chatscale::sim {

struct EngineReplicaConfig {
  SchedulerOptions scheduler;
  std::int32_t block_tokens = 16;
  std::int64_t kv_blocks = 0;  // KV-cache blocks of the replica (kv_capacity_tokens / block_tokens)
  int tensor_parallel = 1;
};

// KV blocks a replica of `shape` at `tp` gets on `gpu` with `memory_utilization` of its memory.
std::int64_t replica_kv_blocks(const ModelShape& shape, const GpuSpecs& gpu, int tp, double memory_utilization,
                               std::int32_t block_tokens);

// What one applied iteration did.
struct IterationOutcome {
  std::vector<RequestId> sampled;            // requests that got a token (first or next)
  std::vector<FinishedRequest> finished;     // requests that finished in it
};

// Cumulative work of a replica, for metrics (differences between two reads give rates).
struct EngineCounters {
  std::int64_t iterations = 0;
  double busy_s = 0;
  std::int64_t prompt_tokens = 0;      // prefill tokens computed (recomputation after preemption too)
  std::int64_t generated_tokens = 0;
  std::int64_t decode_sequences = 0;   // summed over iterations: / iterations = mean decode batch
};

class EngineReplica {
 public:
  EngineReplica(const ModelShape& shape, const IterationTimeModel& model, EngineReplicaConfig config);

  Status enqueue(const Scheduler::Request& request, double now);
  // NotFound when the request is no longer live (finished or never enqueued).
  Status cancel(RequestId id);
  // Plans the next iteration at `now` and returns its duration in seconds; nullopt when nothing can run.
  std::optional<double> begin_iteration(double now);
  // Applies the iteration planned by begin_iteration, at `now` (its end).
  IterationOutcome end_iteration(double now);
  // Drops every request (the replica failed): running and waiting requests vanish without an outcome.
  void reset();

  // One iteration's duration for `plan` on this replica (exposed for tests and the capacity report).
  double iteration_seconds(const IterationPlan& plan) const;

  bool idle() const { return scheduler_.idle(); }
  std::size_t live() const { return live_.size(); }
  SchedulerStats stats() const { return scheduler_.stats(); }
  const EngineCounters& counters() const { return counters_; }
  std::int64_t last_decode_batch() const { return last_decode_batch_; }
  double last_iteration_s() const { return last_iteration_s_; }

 private:
  const ModelShape shape_;  // a copy: callers often pass a temporary
  const IterationTimeModel& model_;
  EngineReplicaConfig config_;
  Scheduler scheduler_;
  static void fill_shape(const IterationPlan& plan, IterationShape& it);

  std::optional<IterationPlan> plan_;
  std::unordered_set<RequestId> live_;  // enqueued and not yet finished or cancelled
  IterationShape shape_scratch_;
  EngineCounters counters_;
  std::int64_t last_decode_batch_ = 0;
  double last_iteration_s_ = 0;
};

}  // namespace chatscale::sim
