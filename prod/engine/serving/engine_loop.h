// EngineLoop: the engine's continuous-batching loop. One std::thread runs iterations: the shared
// Scheduler (shared/scheduler, the code the simulator runs) plans each one under its token budget and
// sequence cap, with KV blocks from its KvBlockManager; the loop builds a ForwardBatch (prefill chunks
// and one-token decode slices, block tables copied from the manager), runs it on a ModelBackend,
// samples each sampling sequence's next token with that sequence's own Sampler (its SamplingParams and
// seed) and hands the token to the request's EngineStream at once.
//
// Requests (token level): submit() checks and enqueues; the stream yields kToken events, then exactly
// one kFinished (reason kStop for an end-of-generation id, which is not emitted as a token; kLength
// for max_tokens or the context/KV capacity reached) or one kError (the backend failed or the loop
// stopped). Usage counts prompt tokens and generated tokens (a stop token included).
// - A prompt that leaves no room for one generated token in the model's context is refused:
//   InvalidArgument "prompt of N tokens exceeds the context of M tokens"; likewise one beyond the whole
//   KV cache. max_tokens <= 0 means "up to the context"; it is clamped to context - prompt (and to the
//   KV capacity), and generation that reaches that bound ends with kLength.
// - A full waiting queue (max_waiting) refuses at submit with Unavailable.
// - Cancellation (EngineStream::cancel or its destruction) removes the request from the scheduler and
//   frees its KV blocks at once, also while an iteration runs (the iteration's batch holds copies of
//   the tables; freed blocks are handed out only by the next plan, after the forward returns); tokens
//   of that iteration for the request are dropped.
// - Preemption (recompute) by the scheduler: the sequence keeps its tokens; when re-admitted its
//   prefill chunks run over prompt + generated tokens, and its last chunk samples the next token.
//
// Ownership: the loop owns its thread, scheduler and request states and borrows the ModelBackend (it
// must outlive the loop). Streams share the request state with the loop (shared_ptr), so a stream may
// outlive the loop: after the loop stops, its open streams end with an Unavailable kError.
// Thread-safety: submit(), stats() and every EngineStream call may come from any thread; one stream is
// read by one thread at a time. Waiting: next() blocks the calling thread; notify_on_event() lets a
// caller wait on its own Clock Signal instead (a task suspends; see EngineBackend). A mutex guards
// the scheduler; it is not held during forward passes.
// Failure behaviour: errors are values; a failing forward ends the batch's requests with kError (the
// backend's status) and frees their blocks; the loop keeps serving others.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/status.h"
#include "ports/clock.h"
#include "ports/types.h"
#include "prod/engine/cpu/sampler.h"
#include "prod/engine/serving/model_backend.h"

namespace chatscale::engine {

struct EngineLoopOptions {
  std::int64_t max_num_batched_tokens = 512;  // token budget of one iteration
  std::int32_t max_num_seqs = 64;             // most sequences running at once
  std::int64_t max_waiting = 256;             // bound of the waiting queue
  std::int64_t long_prefill_token_threshold = 0;  // prefill tokens per request per iteration; 0: any
  double admission_watermark = 0.0;           // fraction of KV blocks an admission leaves free
  std::int32_t recent_window = 64;            // tokens the repetition penalty looks at
};

struct EngineRequest {
  std::vector<std::int32_t> prompt_ids;
  std::int64_t max_tokens = 0;  // <= 0: up to the context
  SamplingParams sampling;
  std::vector<std::int32_t> eog_ids;  // end-of-generation ids (finish reason stop)
  std::int32_t priority = 0;          // higher runs first
};

struct EngineUsage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

struct EngineEvent {
  enum class Kind { kToken, kFinished, kError };
  Kind kind = Kind::kToken;
  std::int32_t token = -1;                         // kToken
  FinishReason reason = FinishReason::kNone;       // kFinished
  EngineUsage usage;                               // kFinished
  Status error;                                    // kError
};

struct EngineStats {
  std::int64_t running = 0;
  std::int64_t waiting = 0;
  std::int64_t in_flight = 0;          // requests submitted and not ended
  std::int64_t kv_used_blocks = 0;
  std::int64_t kv_total_blocks = 0;
  double kv_usage = 0;
  std::int64_t iterations = 0;         // forward passes run
  std::int64_t prefill_tokens = 0;     // tokens computed in prefill chunks (recomputation included)
  std::int64_t generated_tokens = 0;   // tokens sampled
  std::int64_t preemptions = 0;
  std::int64_t rejected = 0;           // submits refused for a full queue
};

class EngineLoop;

namespace detail {
struct StreamState;
struct LoopCore;
}  // namespace detail

// The consumer side of one request. Destroying it cancels the request.
class EngineStream {
 public:
  ~EngineStream();
  EngineStream(const EngineStream&) = delete;
  EngineStream& operator=(const EngineStream&) = delete;

  std::uint64_t id() const { return id_; }
  std::int64_t prompt_tokens() const { return prompt_tokens_; }
  // Waits up to `timeout` for the next event; DeadlineExceeded when none came (read again later),
  // FailedPrecondition after the final event, Cancelled after cancel().
  Result<EngineEvent> next(std::chrono::nanoseconds timeout);
  // The next event if one is queued, else nullopt (same errors as next() otherwise). Never blocks.
  Result<std::optional<EngineEvent>> try_next();
  // Notifies `signal` at the next event or cancellation, or at once when an event is already queued
  // or the stream was cancelled: arm a fresh (one-shot) Signal, call try_next() again, then wait on
  // it, so that a waiting task suspends instead of polling. Notified from the loop's thread; one
  // armed signal at a time (a new one replaces it).
  void notify_on_event(std::shared_ptr<Signal> signal);
  // Ends the request and frees its KV blocks at once; idempotent.
  void cancel();

 private:
  friend class EngineLoop;
  EngineStream(std::shared_ptr<detail::LoopCore> core, std::shared_ptr<detail::StreamState> state,
               std::uint64_t id, std::int64_t prompt_tokens)
      : core_(std::move(core)), state_(std::move(state)), id_(id), prompt_tokens_(prompt_tokens) {}

  std::shared_ptr<detail::LoopCore> core_;
  std::shared_ptr<detail::StreamState> state_;
  std::uint64_t id_;
  std::int64_t prompt_tokens_;
};

class EngineLoop {
 public:
  // Starts the loop's thread. InvalidArgument for bad options (see SchedulerOptions).
  static Result<std::unique_ptr<EngineLoop>> create(ModelBackend& backend, EngineLoopOptions options = {});
  ~EngineLoop();  // stops the thread; open streams end with Unavailable
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  Result<std::unique_ptr<EngineStream>> submit(EngineRequest request);
  EngineStats stats() const;
  const LlamaConfig& config() const;
  // Most sequences that run at once (max_num_seqs) and the waiting bound: the loop's capacity.
  std::int64_t capacity() const;

 private:
  explicit EngineLoop(std::shared_ptr<detail::LoopCore> core);
  void run();

  std::shared_ptr<detail::LoopCore> core_;
  std::thread thread_;
};

}  // namespace chatscale::engine
