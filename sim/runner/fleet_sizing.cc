#include "sim/runner/fleet_sizing.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "capacity/arithmetic.h"
#include "cost/cost_model.h"
#include "scenario/scenario_cost.h"
#include "sim/fleet/calibration.h"
#include "sim/fleet/engine_replica.h"
#include "sim/runner/sim_output.h"

namespace chatscale::sim {
namespace {

constexpr int kTrialFields = 9;

// Runs one simulation of `scenario` in a child process and reads its figures back through a pipe.
Result<SizingTrial> run_trial(const Scenario& scenario, const SimOptions& options, double ttft_target) {
  int fds[2];
  if (pipe(fds) != 0) return internal_error("fleet sizing: pipe() failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return internal_error("fleet sizing: fork() failed");
  if (pid == 0) {
    close(fds[0]);
    SimOptions quiet = options;
    quiet.progress = false;
    auto run = run_simulation(scenario, quiet);
    if (!run.is_ok()) {
      std::fprintf(stderr, "fleet sizing: %s\n", run.status().message().c_str());
      _exit(3);
    }
    Summary s = summarize(scenario, *run);
    double v[kTrialFields] = {s.ttft_p50_s, s.ttft_p99_s, s.availability, run->fleet.mean_decode_batch(),
                              run->fleet.busy_tokens_per_gpu_s(), run->fleet.utilization(), s.peak_messages_per_s,
                              run->wall_seconds, 0};
    ssize_t n = write(fds[1], v, sizeof v);
    _exit(n == static_cast<ssize_t>(sizeof v) ? 0 : 4);
  }
  close(fds[1]);
  double v[kTrialFields] = {};
  std::size_t got = 0;
  while (got < sizeof v) {
    ssize_t n = read(fds[0], reinterpret_cast<char*>(v) + got, sizeof v - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof v || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return internal_error("fleet sizing: the trial with " + std::to_string(scenario.gpu.fleet.gpus) +
                          " GPUs failed (exit status " + std::to_string(status) + ")");
  SizingTrial t;
  t.gpus = scenario.gpu.fleet.gpus;
  t.ttft_p50_s = v[0];
  t.ttft_p99_s = v[1];
  t.availability = v[2];
  t.mean_decode_batch = v[3];
  t.busy_tokens_per_gpu_s = v[4];
  t.utilization = v[5];
  t.peak_messages_per_s = v[6];
  t.wall_s = v[7];
  t.passes = t.ttft_p99_s <= ttft_target && t.availability >= scenario.availability.target;
  return t;
}

std::int64_t fleet_step(const Scenario& scenario) {
  const std::int64_t tp = std::max<std::int64_t>(1, scenario.gpu.model.tensor_parallel);
  return std::lcm(tp, std::max<std::int64_t>(1, scenario.gpu.fleet.gpus_per_server));
}

// The arithmetic bracket: output tokens needed at peak, and what a GPU decodes at the largest batch.
Status bound(const Scenario& scenario, ModelSizing& m) {
  CS_ASSIGN_OR_RETURN(IterationTimeModel model, fleet_time_model(scenario));
  const auto& g = scenario.gpu;
  const int tp = static_cast<int>(std::max<std::int64_t>(1, g.model.tensor_parallel));
  const ModelShape shape = g.model.shape();
  CS_RETURN_IF_ERROR(check_tensor_parallel(shape, tp));
  const double answer_tokens = scenario.traffic.assistant_response.mean_bytes / scenario.traffic.bytes_per_token;
  CapacityFigure peak;
  for (const auto& f : capacity_figures(scenario))
    if (f.key == "peak_messages_per_s") peak = f;
  m.needed_tokens_per_s = peak.value * answer_tokens;
  m.weight_gb_per_gpu = g.model.weight_bytes_per_gpu() / 1e9;
  m.kv_tokens_per_replica = static_cast<double>(
      replica_kv_blocks(shape, model.gpu(), tp, g.engine.memory_utilization, static_cast<std::int32_t>(g.engine.kv_block_tokens)) *
      g.engine.kv_block_tokens);
  if (m.kv_tokens_per_replica <= 0)
    return invalid_argument("gpu.model " + g.model.name + ": the weights leave no KV cache at TP" + std::to_string(tp));
  const auto context = static_cast<std::int64_t>(prompt_tokens_per_message(scenario) + answer_tokens / 2);
  const std::int64_t batch = std::min<std::int64_t>(
      g.engine.max_batch_sequences, static_cast<std::int64_t>(m.kv_tokens_per_replica / std::max<std::int64_t>(1, context)));
  const double step_s = model.predict_ms(shape, IterationShape::decode(std::max<std::int64_t>(1, batch), context), tp) / 1e3;
  m.max_batch_tokens_per_gpu_s = static_cast<double>(batch) / step_s / tp;
  m.lower_bound_gpus = static_cast<std::int64_t>(std::ceil(m.needed_tokens_per_s / m.max_batch_tokens_per_gpu_s));
  return Status::ok();
}

Result<ModelSizing> size_one(Scenario scenario, const SimOptions& options, const SizingOptions& sizing) {
  ModelSizing m;
  m.model = scenario.gpu.model;
  CS_RETURN_IF_ERROR(bound(scenario, m));
  const std::int64_t step = fleet_step(scenario);
  auto steps_of = [&](std::int64_t gpus) { return std::max<std::int64_t>(1, (gpus + step - 1) / step); };
  auto trial = [&](std::int64_t k) -> Result<SizingTrial> {
    scenario.gpu.fleet.gpus = k * step;
    CS_ASSIGN_OR_RETURN(SizingTrial t, run_trial(scenario, options, sizing.ttft_target_s));
    m.trials.push_back(t);
    if (sizing.log) {
      char line[256];
      std::snprintf(line, sizeof line, "[fleet] %s: %lld GPUs: TTFT p99 %.3f s, availability %.5f, batch %.1f -> %s (%.0f s)",
                    m.model.name.c_str(), static_cast<long long>(t.gpus), t.ttft_p99_s, t.availability,
                    t.mean_decode_batch, t.passes ? "passes" : "fails", t.wall_s);
      sizing.log(line);
    }
    return t;
  };
  std::int64_t lo = std::max<std::int64_t>(1, steps_of(m.lower_bound_gpus)) - 1;  // assumed to fail
  std::int64_t hi = std::max(steps_of(scenario.gpu.fleet.gpus), lo + 1);
  CS_ASSIGN_OR_RETURN(SizingTrial top, trial(hi));
  for (int doubling = 0; !top.passes && doubling < 4; ++doubling) {
    lo = hi;
    hi *= 2;
    CS_ASSIGN_OR_RETURN(top, trial(hi));
  }
  if (!top.passes) return m;  // min_gpus stays 0: no fleet up to 16x passed
  SizingTrial best = top;
  while (hi - lo > 1 && static_cast<double>(hi - lo) > sizing.tolerance * static_cast<double>(hi) &&
         static_cast<int>(m.trials.size()) < sizing.max_trials) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    CS_ASSIGN_OR_RETURN(SizingTrial t, trial(mid));
    if (t.passes) {
      hi = mid;
      best = t;
    } else {
      lo = mid;
    }
  }
  m.min_gpus = hi * step;
  m.at_min = best;
  scenario.gpu.fleet.gpus = m.min_gpus;
  if (auto inputs = scenario_cost_inputs(scenario); inputs.is_ok()) m.self_hosted_usd_per_month = monthly_cost(*inputs).self_hosted_usd;
  return m;
}

}  // namespace

Result<std::vector<ModelSizing>> find_min_gpus(const Scenario& scenario, const SimOptions& options,
                                               const SizingOptions& sizing) {
  std::vector<ModelSpec> models = {scenario.gpu.model};
  models.insert(models.end(), scenario.gpu.compare_models.begin(), scenario.gpu.compare_models.end());
  std::vector<ModelSizing> out;
  for (const ModelSpec& model : models) {
    Scenario s = scenario;
    s.gpu.model = model;
    CS_ASSIGN_OR_RETURN(ModelSizing m, size_one(std::move(s), options, sizing));
    out.push_back(std::move(m));
  }
  return out;
}

std::string format_sizing_md(const Scenario& scenario, const std::vector<ModelSizing>& sizings) {
  std::ostringstream o;
  o << "# Fleet sizing: " << scenario.name << "\n\n"
    << "The smallest fleet of " << format_number(static_cast<double>(scenario.gpu.fleet.gpus_per_server))
    << "-GPU servers that keeps time to first token p99 at most " << format_number(scenario.availability.ttft_target_s, 1)
    << " s and availability at least " << format_number(scenario.availability.target * 100, 2)
    << "% over the simulated window, found by simulating candidate fleets (bisection; each trial is a whole "
       "simulation). The reference sizes its fleet at "
    << format_number(17'500) << " H100s.\n\n"
    << "| model | TP | weights/GPU | KV tokens/replica | output tokens/s needed | GPUs, arithmetic bound | GPUs, simulated minimum | "
       "TTFT p50 / p99 there | decode batch there | tokens/s per busy GPU | vs 17,500 | self-hosted cost/month |\n"
    << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& m : sizings) {
    o << "| " << m.model.name << " | " << m.model.tensor_parallel << " | " << format_number(m.weight_gb_per_gpu, 1) << " GB | "
      << format_number(m.kv_tokens_per_replica) << " | " << format_number(m.needed_tokens_per_s) << " | "
      << format_number(static_cast<double>(m.lower_bound_gpus)) << " | ";
    if (m.min_gpus == 0) {
      o << "none passed up to " << format_number(static_cast<double>(m.trials.empty() ? 0 : m.trials.back().gpus))
        << " | | | | | |\n";
      continue;
    }
    o << format_number(static_cast<double>(m.min_gpus)) << " | " << format_number(m.at_min.ttft_p50_s, 3) << " / "
      << format_number(m.at_min.ttft_p99_s, 3) << " s | " << format_number(m.at_min.mean_decode_batch, 1) << " | "
      << format_number(m.at_min.busy_tokens_per_gpu_s) << " | "
      << format_number(static_cast<double>(m.min_gpus) / 17'500.0 * 100, 1) << "% | $"
      << format_number(m.self_hosted_usd_per_month / 1e6, 1) << "M |\n";
  }
  o << "\nArithmetic: output tokens/s needed = peak messages/s x mean answer tokens; the bound divides it by "
       "what one GPU decodes at the largest batch the KV cache and max_batch_sequences allow (iteration-time "
       "model), i.e. a fleet that is busy all the time with full batches. The simulated minimum is larger: "
       "batches are not always full, prefills share the iterations, and queues must stay short enough for "
       "the first token.\n\n## Trials\n\n| model | GPUs | TTFT p50 | TTFT p99 | availability | decode batch | busy share | verdict | wall s |\n"
       "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& m : sizings)
    for (const auto& t : m.trials)
      o << "| " << m.model.name << " | " << format_number(static_cast<double>(t.gpus)) << " | "
        << format_number(t.ttft_p50_s, 3) << " | " << format_number(t.ttft_p99_s, 3) << " | "
        << format_number(t.availability * 100, 3) << "% | " << format_number(t.mean_decode_batch, 1) << " | "
        << format_number(t.utilization, 2) << " | " << (t.passes ? "passes" : "fails") << " | "
        << format_number(t.wall_s, 0) << " |\n";
  return o.str();
}

std::string format_sizing_json(const std::vector<ModelSizing>& sizings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : sizings) {
    nlohmann::json trials = nlohmann::json::array();
    for (const auto& t : m.trials)
      trials.push_back({{"gpus", t.gpus}, {"ttft_p50_s", t.ttft_p50_s}, {"ttft_p99_s", t.ttft_p99_s},
                        {"availability", t.availability}, {"mean_decode_batch", t.mean_decode_batch},
                        {"busy_tokens_per_gpu_s", t.busy_tokens_per_gpu_s}, {"utilization", t.utilization},
                        {"passes", t.passes}, {"wall_s", t.wall_s}});
    out.push_back({{"model", m.model.name}, {"tensor_parallel", m.model.tensor_parallel},
                   {"weight_gb_per_gpu", m.weight_gb_per_gpu}, {"kv_tokens_per_replica", m.kv_tokens_per_replica},
                   {"needed_output_tokens_per_s", m.needed_tokens_per_s},
                   {"max_batch_tokens_per_gpu_s", m.max_batch_tokens_per_gpu_s},
                   {"lower_bound_gpus", m.lower_bound_gpus}, {"min_gpus", m.min_gpus},
                   {"self_hosted_usd_per_month", m.self_hosted_usd_per_month}, {"trials", trials}});
  }
  return out.dump(2) + "\n";
}

}  // namespace chatscale::sim
