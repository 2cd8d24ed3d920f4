// The inference port: a backend turns a prompt into a stream of events. Adapters: the deterministic
// fake (shared/testing), the simulated GPU fleet (sim), OpenAI-compatible upstreams, the built-in engine
// and the synthetic load-test backend (prod).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ports/types.h"

namespace chatscale {

struct InferenceRequest {
  std::string request_id;
  std::string model;
  std::vector<ChatTurn> messages;   // context already trimmed to the window, system prompt first
  std::int64_t prompt_tokens = 0;   // as counted by the gateway's tokenizer
  std::int64_t max_tokens = 0;
  double temperature = 1.0;
  std::string tier;                 // scheduling priority
  std::string region;               // caller's region, for routing affinity
  double deadline = 0;              // absolute time on the clock's time line; 0 = none
  // OpenAI's sampling options. Backends that cannot honour one ignore it (the simulator).
  double top_p = 1.0;                 // nucleus sampling, (0, 1]; 1 = off
  std::optional<std::uint64_t> seed;  // given: reproducible sampling; absent: the backend's own choice
  std::vector<std::string> stop;      // at most kMaxStopStrings, each 1..kMaxStopBytes bytes; the answer
                                      // ends before the first one (finish reason stop), which is not sent
};

inline constexpr std::size_t kMaxStopStrings = 4;
inline constexpr std::size_t kMaxStopBytes = 64;

// One step of a generation. A stream yields kDelta events (the first of them is the first token),
// then exactly one kDone or kError, after which it is finished. Aggregating backends (the simulator)
// may carry many tokens in one delta and leave `text` empty; `bytes` is then what the text would weigh.
struct InferenceEvent {
  enum class Kind { kDelta, kDone, kError };
  Kind kind = Kind::kDelta;
  std::string text;
  std::int64_t tokens = 0;
  std::int64_t bytes = 0;
  Usage usage;                                   // kDone
  FinishReason finish_reason = FinishReason::kNone;  // kDone
  Status error;                                  // kError

  static InferenceEvent delta(std::string text, std::int64_t tokens);
  static InferenceEvent done(Usage usage, FinishReason reason);
  static InferenceEvent failure(Status error);
};

// A running generation. Destroying it cancels the generation and frees its resources at once.
class InferenceStream {
 public:
  virtual ~InferenceStream() = default;
  // Suspends the task until the next event or the deadline (absolute); DeadlineExceeded on timeout,
  // after which the stream may be read again.
  virtual Result<InferenceEvent> next(double deadline) = 0;
  virtual void cancel() = 0;
};

struct BackendLoad {
  bool healthy = true;
  std::int64_t in_flight = 0;   // generations running or queued
  std::int64_t capacity = 0;    // 0 = unknown
  std::string region;
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;
  virtual const std::string& name() const = 0;
  virtual BackendLoad load() const = 0;
  // Admits the request or refuses it (Unavailable when queues are full: the caller sheds with 503).
  virtual Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) = 0;
};

}  // namespace chatscale
