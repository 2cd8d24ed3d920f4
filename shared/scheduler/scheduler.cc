#include "scheduler/scheduler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>
#include <utility>

namespace chatscale {

Status validate(const SchedulerOptions& o) {
  if (o.max_num_batched_tokens <= 0) return invalid_argument("max_num_batched_tokens must be positive");
  if (o.max_num_seqs <= 0) return invalid_argument("max_num_seqs must be positive");
  if (o.max_waiting <= 0) return invalid_argument("max_waiting must be positive");
  if (o.long_prefill_token_threshold < 0) {
    return invalid_argument("long_prefill_token_threshold must not be negative");
  }
  if (o.max_model_len < 0) return invalid_argument("max_model_len must not be negative");
  if (!std::isfinite(o.admission_watermark) || o.admission_watermark < 0 ||
      o.admission_watermark >= 1) {
    return invalid_argument("admission_watermark must be in [0, 1)");
  }
  return Status::ok();
}

namespace {

SchedulerOptions clamped(SchedulerOptions o) {
  o.max_num_batched_tokens = std::max<std::int64_t>(o.max_num_batched_tokens, 1);
  o.max_num_seqs = std::max<std::int32_t>(o.max_num_seqs, 1);
  o.max_waiting = std::max<std::int64_t>(o.max_waiting, 1);
  o.long_prefill_token_threshold = std::max<std::int64_t>(o.long_prefill_token_threshold, 0);
  o.max_model_len = std::max<std::int64_t>(o.max_model_len, 0);
  if (!std::isfinite(o.admission_watermark)) o.admission_watermark = 0;
  o.admission_watermark = std::clamp(o.admission_watermark, 0.0, 0.99);
  return o;
}

Status unknown_request(RequestId id) {
  return not_found("request " + std::to_string(id) + " is not queued or running");
}

}  // namespace

bool Scheduler::WaitingOrder::operator()(const Key& a, const Key& b) const {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.resumed != b.resumed) return a.resumed;  // preempted requests go back to the front
  if (a.arrival != b.arrival) return a.arrival < b.arrival;
  return a.serial < b.serial;
}

bool Scheduler::RunningOrder::operator()(const Key& a, const Key& b) const {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.arrival != b.arrival) return a.arrival < b.arrival;
  return a.serial < b.serial;
}

Scheduler::Scheduler(SchedulerOptions options, std::int32_t block_size, std::int64_t num_blocks)
    : options_(clamped(options)), kv_(block_size, num_blocks) {
  // Floor, as vLLM sizes its watermark: a small cache keeps no reserve rather than a whole block.
  watermark_blocks_ = static_cast<std::int64_t>(
      std::floor(options_.admission_watermark * static_cast<double>(kv_.num_blocks())));
}

Status Scheduler::check_request(const Request& r) const {
  if (r.prompt_tokens <= 0 || r.max_new_tokens <= 0) {
    return invalid_argument("request " + std::to_string(r.id) +
                            ": prompt_tokens and max_new_tokens must be positive");
  }
  if (!std::isfinite(r.arrival_time)) {
    return invalid_argument("request " + std::to_string(r.id) + ": arrival time is not finite");
  }
  const std::int64_t total = r.prompt_tokens + r.max_new_tokens;
  if (options_.max_model_len > 0 && total > options_.max_model_len) {
    return invalid_argument("request " + std::to_string(r.id) + ": " + std::to_string(total) +
                            " tokens exceed max_model_len " + std::to_string(options_.max_model_len));
  }
  // The sampled last token never needs a slot, hence total - 1.
  if (kv_.blocks_for_tokens(total - 1) > kv_.num_blocks()) {
    return invalid_argument("request " + std::to_string(r.id) + ": " + std::to_string(total) +
                            " tokens can never fit the KV cache of " +
                            std::to_string(kv_.num_blocks()) + " blocks");
  }
  return Status::ok();
}

Status Scheduler::enqueue(Request request, double /*now*/) {
  CS_RETURN_IF_ERROR(check_request(request));
  if (seqs_.count(request.id) != 0) {
    return already_exists("request " + std::to_string(request.id) + " is already queued or running");
  }
  if (static_cast<std::int64_t>(waiting_.size()) >= options_.max_waiting) {
    ++counters_.rejected_total;
    return unavailable("scheduler waiting queue full (" + std::to_string(options_.max_waiting) +
                       " requests)");
  }
  const RequestId id = request.id;
  Seq& seq = seqs_[id];
  seq.req = request;
  seq.serial = next_serial_++;
  seq.prefill_target = request.prompt_tokens;
  waiting_.insert(seq.key());
  return Status::ok();
}

IterationPlan Scheduler::next_batch(double now) {
  IterationPlan plan;
  plan.iteration = ++iteration_;
  std::int64_t budget = options_.max_num_batched_tokens;
  schedule_running(plan, budget, /*decodes=*/true);
  schedule_running(plan, budget, /*decodes=*/false);
  // As vLLM: no admissions in an iteration that had to preempt; the cache is the bottleneck.
  if (plan.preempted.empty()) admit_waiting(plan, budget, now);
  compact(plan);
  ++counters_.iterations;
  counters_.last_prefill_tokens = plan.prefill_tokens;
  counters_.last_decode_tokens = plan.decode_tokens;
  counters_.last_num_tokens = plan.num_tokens();
  return plan;
}

void Scheduler::schedule_running(IterationPlan& plan, std::int64_t& budget, bool decodes) {
  // A snapshot: preemption removes entries from running_ while we walk it.
  std::vector<Seq*>& order = scratch_;
  order.clear();
  for (const Key& k : running_) order.push_back(k.seq);
  for (Seq* seq : order) {
    if (budget <= 0) break;
    if (seq->state != RequestState::kRunning || seq->decoding() != decodes) continue;
    if (seq->planned_iteration == plan.iteration) continue;
    std::int64_t tokens = 1;
    if (!decodes) {
      tokens = std::min(seq->prefill_target - seq->computed, budget);
      if (options_.long_prefill_token_threshold > 0) {
        tokens = std::min(tokens, options_.long_prefill_token_threshold);
      }
    }
    if (!reserve_or_preempt(*seq, tokens, plan, budget)) continue;
    add_entry(*seq, tokens, plan);
    budget -= tokens;
  }
}

bool Scheduler::reserve_or_preempt(Seq& seq, std::int64_t tokens, IterationPlan& plan,
                                   std::int64_t& budget) {
  const RequestId id = seq.req.id;
  for (;;) {
    // Only the slots beyond what the sequence already holds (an abandoned plan may have reserved some).
    const std::int64_t extra = std::max<std::int64_t>(seq.computed + tokens - kv_.num_tokens(id), 0);
    if (kv_.can_allocate(id, extra)) return kv_.allocate(id, extra).is_ok();
    Seq* victim = std::prev(running_.end())->seq;
    preempt(*victim, plan, budget);
    if (victim == &seq) return false;
  }
}

void Scheduler::preempt(Seq& victim, IterationPlan& plan, std::int64_t& budget) {
  if (victim.planned_iteration == plan.iteration) {
    // Withdraw its entry (compact() drops it) and give its tokens back to the budget.
    if (victim.planned_decode) {
      plan.decodes[victim.planned_index].context = 0;
      plan.decode_tokens -= victim.planned_tokens;
    } else {
      plan.prefills[victim.planned_index].tokens = 0;
      plan.prefill_tokens -= victim.planned_tokens;
    }
    budget += victim.planned_tokens;
    victim.planned_iteration = 0;
  }
  kv_.free(victim.req.id);
  running_.erase(victim.key());
  victim.state = RequestState::kWaiting;
  victim.resumed = true;
  victim.computed = 0;
  victim.prefill_target = victim.req.prompt_tokens + victim.generated;
  ++victim.preemptions;
  waiting_.insert(victim.key());
  plan.preempted.push_back(victim.req.id);
  ++counters_.preemptions_total;
}

void Scheduler::admit_waiting(IterationPlan& plan, std::int64_t& budget, double now) {
  while (budget > 0 && !waiting_.empty() &&
         static_cast<std::int64_t>(running_.size()) < options_.max_num_seqs) {
    Seq& seq = *waiting_.begin()->seq;
    std::int64_t tokens = std::min(seq.prefill_target - seq.computed, budget);
    if (options_.long_prefill_token_threshold > 0) {
      tokens = std::min(tokens, options_.long_prefill_token_threshold);
    }
    // The watermark keeps room for running sequences to grow; an empty engine admits regardless,
    // so a request that fits the cache alone always makes progress.
    const std::int64_t reserve = running_.empty() ? 0 : watermark_blocks_;
    if (kv_.blocks_needed(seq.req.id, tokens) + reserve > kv_.num_free_blocks()) break;
    if (!kv_.allocate(seq.req.id, tokens).is_ok()) break;
    waiting_.erase(waiting_.begin());
    seq.state = RequestState::kRunning;
    running_.insert(seq.key());
    if (seq.first_scheduled_at < 0) seq.first_scheduled_at = now;
    add_entry(seq, tokens, plan);
    budget -= tokens;
  }
}

void Scheduler::add_entry(Seq& seq, std::int64_t tokens, IterationPlan& plan) {
  seq.planned_iteration = plan.iteration;
  seq.planned_tokens = tokens;
  seq.planned_decode = seq.decoding();
  if (seq.planned_decode) {
    seq.planned_index = plan.decodes.size();
    plan.decodes.push_back({seq.req.id, seq.computed + 1});
    plan.decode_tokens += tokens;
  } else {
    seq.planned_index = plan.prefills.size();
    const bool samples = seq.computed + tokens >= seq.prefill_target;
    plan.prefills.push_back({seq.req.id, tokens, seq.computed, samples});
    plan.prefill_tokens += tokens;
  }
}

void Scheduler::compact(IterationPlan& plan) {
  std::erase_if(plan.decodes, [](const DecodeEntry& d) { return d.context == 0; });
  std::erase_if(plan.prefills, [](const PrefillChunk& p) { return p.tokens == 0; });
}

void Scheduler::complete(const IterationPlan& plan, const std::vector<Outcome>& outcomes, double now) {
  if (plan.iteration != iteration_ || completed_iteration_ == plan.iteration) return;
  completed_iteration_ = plan.iteration;
  std::unordered_set<RequestId> stops;
  for (const Outcome& o : outcomes) {
    if (o.stop) stops.insert(o.id);
  }
  // Entries of requests cancelled (or re-queued under the same id) since the plan was issued are
  // skipped.
  auto live = [&](RequestId id) -> Seq* {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) return nullptr;
    Seq& seq = it->second;
    const bool ok = seq.state == RequestState::kRunning && seq.planned_iteration == plan.iteration;
    return ok ? &seq : nullptr;
  };
  for (const DecodeEntry& d : plan.decodes) {
    Seq* seq = live(d.id);
    if (seq == nullptr) continue;
    seq->computed += 1;
    sample(*seq, stops.count(d.id) != 0, now);
  }
  for (const PrefillChunk& p : plan.prefills) {
    Seq* seq = live(p.id);
    if (seq == nullptr) continue;
    seq->computed += p.tokens;
    if (seq->computed >= seq->prefill_target) sample(*seq, stops.count(p.id) != 0, now);
  }
}

void Scheduler::sample(Seq& seq, bool stop, double now) {
  ++seq.generated;
  ++counters_.generated_tokens_total;
  if (seq.first_token_at < 0) seq.first_token_at = now;
  if (stop) {
    finish(seq, FinishReason::kStop, now);
  } else if (seq.generated >= seq.req.max_new_tokens) {
    finish(seq, FinishReason::kLength, now);
  }
}

void Scheduler::finish(Seq& seq, FinishReason reason, double now) {
  FinishedRequest done;
  done.id = seq.req.id;
  done.reason = reason;
  done.prompt_tokens = seq.req.prompt_tokens;
  done.generated_tokens = seq.generated;
  done.preemptions = seq.preemptions;
  done.arrival_time = seq.req.arrival_time;
  done.first_scheduled_at = seq.first_scheduled_at;
  done.first_token_at = seq.first_token_at;
  done.finished_at = now;
  finished_.push_back(done);
  ++counters_.finished_total;
  const RequestId id = seq.req.id;  // a copy: erase must not read the node it destroys
  kv_.free(id);
  running_.erase(seq.key());
  seqs_.erase(id);  // `seq` dies here
}

Status Scheduler::cancel(RequestId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return unknown_request(id);
  Seq& seq = it->second;
  if (seq.state == RequestState::kRunning) {
    kv_.free(id);
    running_.erase(seq.key());
  } else {
    waiting_.erase(seq.key());
  }
  seqs_.erase(it);
  ++counters_.cancelled_total;
  return Status::ok();
}

std::vector<FinishedRequest> Scheduler::take_finished() {
  std::vector<FinishedRequest> out;
  out.swap(finished_);
  return out;
}

Result<RequestView> Scheduler::request(RequestId id) const {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return unknown_request(id);
  const Seq& seq = it->second;
  RequestView v;
  v.id = id;
  v.state = seq.state;
  v.priority = seq.req.priority;
  v.prompt_tokens = seq.req.prompt_tokens;
  v.max_new_tokens = seq.req.max_new_tokens;
  v.generated_tokens = seq.generated;
  v.computed_tokens = seq.computed;
  v.kv_blocks = kv_.num_blocks_of(id);
  v.preemptions = seq.preemptions;
  return v;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = counters_;
  s.running = static_cast<std::int64_t>(running_.size());
  s.waiting = static_cast<std::int64_t>(waiting_.size());
  s.kv_used_blocks = kv_.num_used_blocks();
  s.kv_total_blocks = kv_.num_blocks();
  s.kv_usage = kv_.usage();
  return s;
}

}  // namespace chatscale
