// SyntheticBackend: a fake language model for tests and load tests ONLY. It does not run a model: it
// writes deterministic, plain English-looking filler (words from a fixed benign list, seeded by the
// request id and the configured seed) token by token at a configured rate, on the Clock port. Its
// model name is "synthetic" (SyntheticBackend::kModel) wherever a model is reported, so its answers
// cannot pass for a real model's. Use it to measure the service around the model: with
// tokens_per_second = 0 it answers without any delay (service overhead benchmarks); with a rate it
// stands in for a GPU fleet of that speed.
//
// Timing: delta i (0-based) is due at start + first_token_ms / 1000 + i / tokens_per_second; kDone
// follows the last delta at once. tokens_per_second = 0 is the zero-delay backend: every event is due
// at start (first_token_ms is ignored) and next() never waits. next(deadline)
// sleeps on the clock until the event is due; when the deadline comes first it sleeps until the
// deadline and returns DeadlineExceeded, and the stream is unchanged (read it again). ManualClock
// tests therefore see exact times; prod passes RealClock and the sleeps suspend the calling task.
//
// Answer: min(answer_tokens, request.max_tokens) tokens (request.max_tokens <= 0: no cap), one word
// per delta (tokens = 1); kDone carries usage {request.prompt_tokens, tokens sent} and finish reason
// kLength when max_tokens cut the answer, else kStop. request.deadline is not enforced (the caller's
// next() deadline is). request.stop is honoured as by a model (StopMatcher): text that could begin a
// stop string is held back (that delta carries less text, still 1 token), and at a match the delta
// is cut before it and kDone (kStop, usage counting the tokens sent) follows. top_p and seed are
// ignored (answer_text() is the answer without stop strings).
//
// Admission: max_in_flight > 0 bounds the open streams; start() beyond it returns Unavailable. A
// stream holds its slot until it ends (kDone), is cancelled, or is destroyed: cancel() and the
// destructor free it at once.
//
// Ownership: the backend borrows the clock (it must outlive the backend); streams borrow the backend
// (it must outlive its streams). Thread-safety: start(), load() and name() may be called from many
// tasks on many threads at once (atomics, no locks). One stream is read by one task at a time;
// cancel() may come from any thread (a next() sleeping at that moment returns Cancelled when it wakes).
// Failure behaviour: only Unavailable (full) from start(); next() on a finished stream returns
// FailedPrecondition, on a cancelled one Cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ports/clock.h"
#include "ports/inference.h"

namespace chatscale {

struct SyntheticBackendConfig {
  std::string name = "synthetic";
  std::string region;
  double tokens_per_second = 200;  // 0 = no delay at all (first_token_ms is then ignored)
  double first_token_ms = 20;      // from start() to the first delta
  std::int64_t answer_tokens = 60; // answer length, capped by the request's max_tokens
  std::int64_t max_in_flight = 0;  // 0 = unbounded
  std::uint64_t seed = 0;          // mixed with the request id: same pair, same text
};

class SyntheticBackend : public InferenceBackend {
 public:
  static constexpr std::string_view kModel = "synthetic";

  SyntheticBackend(Clock& clock, SyntheticBackendConfig config);

  const std::string& name() const override { return config_.name; }
  // healthy always; capacity = max_in_flight (0 = unknown); in_flight = open streams.
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  const std::string& model() const { return model_; }  // always "synthetic"
  const SyntheticBackendConfig& config() const { return config_; }
  std::int64_t in_flight() const { return in_flight_.load(); }
  std::int64_t started() const { return started_.load(); }
  std::int64_t refused() const { return refused_.load(); }

  // The whole answer start(request) would stream (its deltas' text joined), computed without a clock:
  // the generator itself, exposed so tests and benchmarks can check answers.
  static std::string answer_text(const SyntheticBackendConfig& config, const InferenceRequest& request);

 private:
  friend class SyntheticStream;
  bool acquire_slot();
  void release_slot() { in_flight_.fetch_sub(1); }

  Clock& clock_;
  const SyntheticBackendConfig config_;
  const std::string model_{kModel};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> started_{0};
  std::atomic<std::int64_t> refused_{0};
};

}  // namespace chatscale
