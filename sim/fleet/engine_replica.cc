#include "sim/fleet/engine_replica.h"

#include <algorithm>

namespace chatscale::sim {

std::int64_t replica_kv_blocks(const ModelShape& shape, const GpuSpecs& gpu, int tp, double memory_utilization,
                               std::int32_t block_tokens) {
  // Every GPU of the group holds its share of each token's KV, so the group holds as many tokens as
  // one of its GPUs.
  const std::int64_t tokens = kv_capacity_tokens(shape, gpu, tp, memory_utilization);
  return tokens / std::max<std::int32_t>(1, block_tokens);
}

EngineReplica::EngineReplica(const ModelShape& shape, const IterationTimeModel& model, EngineReplicaConfig config)
    : shape_(shape),
      model_(model),
      config_(config),
      scheduler_(config.scheduler, config.block_tokens, std::max<std::int64_t>(1, config.kv_blocks)) {}

void EngineReplica::fill_shape(const IterationPlan& plan, IterationShape& it) {
  it.prefills.clear();
  it.decode_contexts.clear();
  for (const auto& p : plan.prefills) it.prefills.push_back(chatscale::PrefillWork{p.tokens, p.context_before});
  for (const auto& d : plan.decodes) it.decode_contexts.push_back(d.context);
}

double EngineReplica::iteration_seconds(const IterationPlan& plan) const {
  IterationShape it;
  fill_shape(plan, it);
  return model_.predict_ms(shape_, it, config_.tensor_parallel) / 1e3;
}

Status EngineReplica::enqueue(const Scheduler::Request& request, double now) {
  CS_RETURN_IF_ERROR(scheduler_.enqueue(request, now));
  live_.insert(request.id);
  return Status::ok();
}

Status EngineReplica::cancel(RequestId id) {
  if (live_.erase(id) == 0) return not_found("request is not live");
  return scheduler_.cancel(id);
}

std::optional<double> EngineReplica::begin_iteration(double now) {
  IterationPlan plan = scheduler_.next_batch(now);
  if (plan.empty()) {
    plan_.reset();
    return std::nullopt;
  }
  // One IterationShape's capacity is reused: this runs once per simulated iteration.
  fill_shape(plan, shape_scratch_);
  const double seconds = model_.predict_ms(shape_, shape_scratch_, config_.tensor_parallel) / 1e3;
  last_decode_batch_ = static_cast<std::int64_t>(plan.decodes.size());
  last_iteration_s_ = seconds;
  counters_.iterations += 1;
  counters_.busy_s += seconds;
  counters_.prompt_tokens += plan.prefill_tokens;
  counters_.decode_sequences += last_decode_batch_;
  plan_ = std::move(plan);
  return seconds;
}

IterationOutcome EngineReplica::end_iteration(double now) {
  IterationOutcome out;
  if (!plan_) return out;
  for (const auto& d : plan_->decodes) out.sampled.push_back(d.id);
  for (const auto& p : plan_->prefills)
    if (p.samples) out.sampled.push_back(p.id);
  // Answers end at their drawn length (max_new_tokens), so no sampled token is a stop token.
  scheduler_.complete(*plan_, {}, now);
  plan_.reset();
  out.finished = scheduler_.take_finished();
  for (const auto& f : out.finished) live_.erase(f.id);
  counters_.generated_tokens += static_cast<std::int64_t>(out.sampled.size());
  return out;
}

void EngineReplica::reset() {
  plan_.reset();
  for (RequestId id : live_) (void)scheduler_.cancel(id);
  live_.clear();
  (void)scheduler_.take_finished();
}

}  // namespace chatscale::sim
