// Fleet sizing: the smallest GPU fleet that keeps time to first token p99 under the target (and
// availability at its target) at the scenario's load, found by simulating candidate fleets.
//
// Search: fleets are whole servers holding whole replicas (multiples of lcm(TP, gpus_per_server)).
// The lower bound comes from arithmetic (peak output tokens/s over what one GPU decodes at the
// largest batch), the upper from the scenario's fleet (doubled until it passes), then bisection
// until the bracket is within 2% or one step. Each candidate runs the whole simulation in a child
// process (SimGrid keeps one engine per process), so trials are independent and the parent never
// starts an engine. The same search runs for each of gpu.compare_models.
//
// Ownership: values. Thread-safety: call from a single-threaded process (it forks).
// Failure: a trial that fails (bad scenario for that model, crash) is an error value naming it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"
#include "sim/runner/sim_runner.h"

namespace chatscale::sim {

struct SizingTrial {
  std::int64_t gpus = 0;
  double ttft_p50_s = 0;
  double ttft_p99_s = 0;
  double availability = 0;
  double mean_decode_batch = 0;
  double busy_tokens_per_gpu_s = 0;
  double utilization = 0;
  double peak_messages_per_s = 0;
  double wall_s = 0;
  bool passes = false;
};

struct ModelSizing {
  ModelSpec model;
  double weight_gb_per_gpu = 0;
  double kv_tokens_per_replica = 0;
  double needed_tokens_per_s = 0;      // peak messages/s x mean answer tokens
  double max_batch_tokens_per_gpu_s = 0;  // arithmetic bound: decode at the largest batch
  std::int64_t lower_bound_gpus = 0;   // needed / max_batch rate
  std::int64_t min_gpus = 0;           // 0 when no fleet passed
  SizingTrial at_min;
  double self_hosted_usd_per_month = 0;  // the scenario's cost model with min_gpus
  std::vector<SizingTrial> trials;     // in the order run
};

struct SizingOptions {
  double ttft_target_s = 2.0;
  double tolerance = 0.02;  // bisection stops when hi - lo <= tolerance x hi (or one step)
  int max_trials = 14;
  std::function<void(const std::string&)> log;  // progress lines
};

Result<std::vector<ModelSizing>> find_min_gpus(const Scenario& scenario, const SimOptions& options,
                                               const SizingOptions& sizing);
std::string format_sizing_md(const Scenario& scenario, const std::vector<ModelSizing>& sizings);
std::string format_sizing_json(const std::vector<ModelSizing>& sizings);

}  // namespace chatscale::sim
