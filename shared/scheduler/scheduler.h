// Continuous-batching scheduler with vLLM V1 semantics: the one implementation that the simulator's GPU
// fleet and the real inference engine both run. Each engine iteration asks next_batch(now) what to
// compute, runs it (or prices it with an iteration-time model), and reports back with complete().
//
// Rules of one iteration (next_batch), under a token budget (max_num_batched_tokens) and a cap on
// running sequences (max_num_seqs):
// 1. Decodes. Running sequences whose prompt is computed get 1 token each, highest priority first
//    (FCFS within a priority), while the budget lasts.
// 2. Running prefills. Running sequences part-way through their prompt get the next chunk:
//    min(rest of the prompt, budget left, long_prefill_token_threshold). A long prompt is thus split
//    across iterations (chunked prefill).
// 3. Admission. Only if nothing was preempted in this call: waiting requests in order (priority,
//    then preempted-before-fresh, then arrival, then enqueue order) start their first chunk while
//    the budget lasts, fewer than max_num_seqs run, and the chunk's KV blocks fit leaving the
//    watermark free. The first request that does not fit stops admission (no overtaking).
// KV blocks are reserved for exactly the tokens scheduled. When a running sequence's chunk or decode
// token needs a block and none is free, the lowest-ranked running sequence (lowest priority, then
// latest arrival) is preempted in recompute mode: its blocks are freed, its entry in this plan (if any)
// is withdrawn and its tokens returned to the budget, and it goes back to the front of its priority in
// the waiting queue with progress reset, to re-prefill prompt + generated tokens later. If it is the
// sequence itself, that sequence simply waits.
//
// Tokens: a prefill chunk that completes the prompt (samples == true) and every decode entry produce
// one sampled token when complete() applies the iteration. A sequence finishes when a sampled token
// is a stop (Outcome::stop) or it has generated max_new_tokens; its blocks return at once.
//
// Admission control: enqueue refuses with Unavailable when the waiting queue holds max_waiting
// requests (the caller sheds with 503; preempted requests re-enter the queue regardless of the bound),
// and with InvalidArgument a request that could never complete (prompt + max_new_tokens beyond
// max_model_len or beyond the whole KV cache), so every admitted request eventually finishes.
//
// Cost: O(log n) per request per iteration (ordered sets for the queues, O(1) block operations).
// Ownership: owns its requests and its KvBlockManager. No clock reads, no I/O; `now` only stamps the
// per-request timings. Deterministic: the same calls give the same plans.
// Thread-safety: none; one inference loop owns the scheduler and serialises calls.
// Failure behaviour: errors are Status values and change nothing; complete() ignores a plan other than
// the latest one issued (or one already applied) and entries of requests cancelled since.
#pragma once

#include <cstdint>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ports/types.h"
#include "scheduler/kv_block_manager.h"

namespace chatscale {

using RequestId = SeqId;

struct SchedulerOptions {
  std::int64_t max_num_batched_tokens = 8192;   // token budget of one iteration (prefill + decode)
  std::int32_t max_num_seqs = 256;              // most sequences running at once
  std::int64_t max_waiting = 4096;              // bound of the waiting queue
  std::int64_t long_prefill_token_threshold = 0;  // prefill tokens per request per iteration; 0: any
  double admission_watermark = 0.01;            // fraction of KV blocks an admission must leave free
  std::int64_t max_model_len = 0;               // cap on prompt + max_new_tokens; 0: the KV capacity
};

// InvalidArgument when a bound is not positive (max_num_batched_tokens, max_num_seqs, max_waiting),
// negative (threshold, max_model_len) or the watermark is outside [0, 1).
Status validate(const SchedulerOptions& options);

// One prefill chunk: compute `tokens` prompt tokens of `id`, positions [context_before,
// context_before + tokens). `samples`: the chunk ends the prompt and a token is sampled.
struct PrefillChunk {
  RequestId id = 0;
  std::int64_t tokens = 0;
  std::int64_t context_before = 0;
  bool samples = false;
};

// One decode step: one token of `id`, attending over `context` tokens (itself included).
struct DecodeEntry {
  RequestId id = 0;
  std::int64_t context = 0;
};

struct IterationPlan {
  std::uint64_t iteration = 0;           // 1, 2, ... in the order issued
  std::vector<DecodeEntry> decodes;      // highest priority first
  std::vector<PrefillChunk> prefills;    // running sequences' chunks first, then admissions
  std::vector<RequestId> preempted;      // preempted (recompute) while building this plan
  std::int64_t prefill_tokens = 0;
  std::int64_t decode_tokens = 0;

  std::int64_t num_tokens() const { return prefill_tokens + decode_tokens; }
  bool empty() const { return decodes.empty() && prefills.empty(); }
};

enum class RequestState { kWaiting, kRunning };

// A live request as the scheduler sees it (for tests, metrics and operators).
struct RequestView {
  RequestId id = 0;
  RequestState state = RequestState::kWaiting;
  std::int32_t priority = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t max_new_tokens = 0;
  std::int64_t generated_tokens = 0;
  std::int64_t computed_tokens = 0;   // tokens whose KV is in the cache
  std::int64_t kv_blocks = 0;
  std::int64_t preemptions = 0;
};

// A request that left by finishing (kStop: a stop token; kLength: max_new_tokens reached).
struct FinishedRequest {
  RequestId id = 0;
  FinishReason reason = FinishReason::kNone;
  std::int64_t prompt_tokens = 0;
  std::int64_t generated_tokens = 0;
  std::int64_t preemptions = 0;
  double arrival_time = 0;
  double first_scheduled_at = 0;
  double first_token_at = 0;
  double finished_at = 0;
};

struct SchedulerStats {
  std::int64_t running = 0;
  std::int64_t waiting = 0;
  std::int64_t preemptions_total = 0;
  std::int64_t rejected_total = 0;        // enqueues refused for a full waiting queue
  std::int64_t finished_total = 0;
  std::int64_t cancelled_total = 0;
  std::int64_t generated_tokens_total = 0;
  std::int64_t iterations = 0;            // plans issued
  std::int64_t kv_used_blocks = 0;
  std::int64_t kv_total_blocks = 0;
  double kv_usage = 0;                    // used / total blocks
  std::int64_t last_prefill_tokens = 0;   // of the latest plan
  std::int64_t last_decode_tokens = 0;
  std::int64_t last_num_tokens = 0;
};

class Scheduler {
 public:
  struct Request {
    RequestId id = 0;               // unique among live requests
    std::int32_t priority = 0;      // higher runs first
    double arrival_time = 0;        // FCFS order within a priority
    std::int64_t prompt_tokens = 0; // at least 1
    std::int64_t max_new_tokens = 0;  // at least 1
  };
  // The result for one sampling entry of a plan; entries without an Outcome produced an ordinary token.
  struct Outcome {
    RequestId id = 0;
    bool stop = false;  // the sampled token ends the sequence (EOS or a stop sequence)
  };

  // Options are clamped to validity; call validate() first to report bad configuration.
  // The KV cache has num_blocks blocks of block_size tokens (see kv_blocks_for).
  Scheduler(SchedulerOptions options, std::int32_t block_size, std::int64_t num_blocks);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Unavailable when the waiting queue is full, AlreadyExists for a live id,
  // InvalidArgument for bad or never-fitting sizes or a non-finite arrival time. `now` is unused by
  // the decision (arrival_time orders the queue) and kept for symmetry with the other calls.
  Status enqueue(Request request, double now);
  // The composition of the next iteration. An empty plan means nothing can run (idle engine).
  IterationPlan next_batch(double now);
  // Applies the iteration `plan` (the latest from next_batch) once it has run.
  void complete(const IterationPlan& plan, const std::vector<Outcome>& outcomes, double now);
  // Removes a waiting or running request at once and frees its blocks; NotFound for an unknown id.
  // Not reported by take_finished (the caller knows).
  Status cancel(RequestId id);

  // Requests finished since the last call, in the order they finished.
  std::vector<FinishedRequest> take_finished();
  Result<RequestView> request(RequestId id) const;
  SchedulerStats stats() const;
  bool idle() const { return running_.empty() && waiting_.empty(); }
  const KvBlockManager& kv() const { return kv_; }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Seq;
  // Queue order: priority (higher first), resumed before fresh (waiting queue only), arrival, serial.
  struct Key {
    std::int32_t priority = 0;
    bool resumed = false;
    double arrival = 0;
    std::uint64_t serial = 0;
    Seq* seq = nullptr;
  };
  struct WaitingOrder {
    bool operator()(const Key& a, const Key& b) const;
  };
  struct RunningOrder {
    bool operator()(const Key& a, const Key& b) const;
  };
  struct Seq {
    Request req;
    std::uint64_t serial = 0;
    RequestState state = RequestState::kWaiting;
    bool resumed = false;
    std::int64_t generated = 0;
    std::int64_t computed = 0;
    std::int64_t prefill_target = 0;  // prompt + generated at (re)admission; decoding once reached
    std::int64_t preemptions = 0;
    double first_scheduled_at = -1;
    double first_token_at = -1;
    // Entry in the plan being built: iteration, which list, index, tokens.
    std::uint64_t planned_iteration = 0;
    bool planned_decode = false;
    std::size_t planned_index = 0;
    std::int64_t planned_tokens = 0;

    Key key() { return {req.priority, resumed, req.arrival_time, serial, this}; }
    bool decoding() const { return computed >= prefill_target; }
  };

  Status check_request(const Request& request) const;
  void schedule_running(IterationPlan& plan, std::int64_t& budget, bool decodes);
  bool reserve_or_preempt(Seq& seq, std::int64_t tokens, IterationPlan& plan, std::int64_t& budget);
  void preempt(Seq& victim, IterationPlan& plan, std::int64_t& budget);
  void admit_waiting(IterationPlan& plan, std::int64_t& budget, double now);
  void add_entry(Seq& seq, std::int64_t tokens, IterationPlan& plan);
  static void compact(IterationPlan& plan);
  void sample(Seq& seq, bool stop, double now);
  void finish(Seq& seq, FinishReason reason, double now);

  SchedulerOptions options_;
  KvBlockManager kv_;
  std::int64_t watermark_blocks_ = 0;
  std::unordered_map<RequestId, Seq> seqs_;  // node-based: Seq* in the queues stay valid
  std::set<Key, WaitingOrder> waiting_;
  std::set<Key, RunningOrder> running_;
  std::uint64_t next_serial_ = 1;
  std::uint64_t iteration_ = 0;
  std::uint64_t completed_iteration_ = 0;
  std::vector<FinishedRequest> finished_;
  std::vector<Seq*> scratch_;  // schedule_running's snapshot, kept to reuse its capacity
  SchedulerStats counters_;  // the totals; the gauges are filled in by stats()
};

}  // namespace chatscale
