// The message service: the request flow of ARCHITECTURE.md, one source compiled into the simulator and
// the server. Plain blocking style over the ports; it runs inside a task (SimGrid actor, coroutine) and
// every wait goes through the Clock port, so the runtime decides what a second is.
//
// Flow of send(): validate -> rate limit (reserve prompt + max_tokens) -> moderate the input -> load
// the conversation and its recent history (read-your-writes token) -> persist the user message
// (idempotency key) -> pick a backend and start, retrying another one before the first token -> stream
// deltas to the sink, moderating the output as it grows, checkpointing the answer -> persist the answer
// (complete or partial, with finish reason) -> record usage, reconcile the token reservation, release
// the concurrency slot, record metrics.
//
// Ownership: borrows every port and component; they must outlive the service. Thread-safety: send() may
// run concurrently from many tasks; the service holds no mutable state of its own beyond a counter.
// Failure: every outcome is a value (SendOutcome::status); a client that goes away mid-stream does not
// stop generation or persistence.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "context/context_builder.h"
#include "core/status.h"
#include "moderation/moderator.h"
#include "ports/clock.h"
#include "ports/inference.h"
#include "ports/metrics_sink.h"
#include "ports/stores.h"
#include "ports/stream_sink.h"
#include "ports/tokenizer.h"
#include "ratelimit/rate_limiter.h"
#include "service/llm_router.h"

namespace chatscale {

struct MessageServiceConfig {
  std::string model = "default";
  std::string system_prompt = "You are a helpful assistant.";
  std::int64_t context_window_tokens = 8192;
  std::int64_t default_max_tokens = 1024;
  std::int64_t max_message_bytes = 32 * 1024;
  int history_messages = 100;          // newest messages loaded for the context
  int max_backend_attempts = 3;        // backends tried before the first token
  double first_token_timeout_s = 60;   // per attempt
  double stall_timeout_s = 60;         // longest silence between tokens before the stream is failed
  double heartbeat_interval_s = 15;    // sink heartbeat while the model is silent
  std::int64_t checkpoint_tokens = 128;  // persist the growing answer every N tokens ...
  double checkpoint_interval_s = 5;      // ... or every T seconds, whichever comes first
  int final_write_attempts = 3;        // the answer's final write is retried before it counts as lost
  double final_write_backoff_s = 0.2;
  RoutingPolicy routing = RoutingPolicy::kLeastLoaded;
};

struct MessagePorts {
  Clock& clock;
  ConversationStore& conversations;
  MessageStore& messages;
  UsageStore& usage;
  MetricsSink& metrics;
  const Tokenizer& tokenizer;
  std::vector<InferenceBackend*> backends;
};

struct MessageComponents {
  RateLimiter& rate_limiter;
  const Moderator& moderator;
};

struct Caller {
  std::string user_id;
  std::string tier = "free";
  std::string region;
  Lsn read_lsn = 0;            // read-your-writes token from the caller's last write
  double read_token_issued_at = 0;
};

struct SendRequest {
  Caller caller;
  std::string conversation_id;
  std::string content;
  std::string idempotency_key;
  std::int64_t max_tokens = 0;  // 0: the configured default
  double temperature = 1.0;
  double top_p = 1.0;                 // passed to the backend (InferenceRequest)
  std::optional<std::uint64_t> seed;  // passed to the backend
  std::vector<std::string> stop;      // passed to the backend
};

struct SendOutcome {
  Status status;                               // OK, or why the message was refused or failed
  std::optional<RateDecision> rate;            // x-ratelimit-* headers for any response after step 2
  std::vector<std::string> flagged_categories; // input or output moderation
  Message user_message;                        // as stored (empty id when refused before step 5)
  Message assistant_message;                   // as stored (empty id when no answer was stored)
  bool streamed = false;                       // the sink saw on_user_message
  bool replayed = false;                       // idempotent retry answered from the store
  bool client_gone = false;
  Lsn lsn = 0;                                 // newest write: the caller's next read token
  double ttft_s = -1;                          // -1 when no token came
  std::string backend;                         // the one that answered
};

class MessageService {
 public:
  MessageService(MessagePorts ports, MessageComponents components, MessageServiceConfig config);

  SendOutcome send(const SendRequest& request, StreamSink& sink);

  const MessageServiceConfig& config() const { return config_; }

 private:
  struct Flow;  // one send() call's working state, in message_service.cc

  Status validate(const SendRequest& request, std::int64_t max_tokens) const;
  Status admit(Flow& flow);
  Status prepare(Flow& flow);
  Status persist_user_message(Flow& flow);
  bool replay_if_answered(Flow& flow);
  Status start_generation(Flow& flow);
  void stream_answer(Flow& flow);
  void finish(Flow& flow);
  Result<InferenceEvent> next_event(Flow& flow, double stall_deadline);
  void checkpoint(Flow& flow, bool final);
  void record(const Flow& flow);
  static std::string_view outcome(const Flow& flow);

  MessagePorts ports_;
  MessageComponents components_;
  MessageServiceConfig config_;
  std::atomic<std::uint64_t> route_draws_{0};
};

}  // namespace chatscale
