// The stateless completion flow behind the OpenAI-compatible /v1/chat/completions: the request
// carries the whole conversation, nothing of it is kept. It is the shared MessageService, unchanged,
// run over a throwaway conversation: each call creates a conversation in a private in-memory
// TransientStore, appends the request's earlier turns to it, sends the last user turn through the
// flow, and deletes the conversation. So the same rate limiter (same per-user state and tiers),
// moderation (input and streamed output), backend routing and retries, token accounting (usage is
// recorded in the real UsageStore: billed like any message) and metrics apply; only the storage of
// the conversation is transient.
//
// Why not a second flow in shared/service: a stateless variant would duplicate every step but two
// (load and persist), and the simulator does not need it. The cost of reuse is a few map operations
// per request in process memory.
//
// Differences from the conversation API: no system prompt of the server's (the caller sends its
// own), no idempotency, and a context that does not fit the window is refused up front
// (context_length_exceeded) instead of trimmed, as OpenAI does.
//
// Ownership: borrows the clock, usage store, metrics, tokenizer, backends and components; owns its
// TransientStore and its MessageService. Thread-safety: complete() may run concurrently from many
// tasks. Failure behaviour: outcomes are values (SendOutcome), as for MessageService::send().
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ports/stores.h"
#include "service/message_service.h"

namespace chatscale::api {

// Conversations and messages in process memory, for one request each. Not a general store: no
// pagination (list calls return everything) and LSN 0 for every write (nothing to wait for).
class TransientStore : public ConversationStore, public MessageStore {
 public:
  Result<Written<Conversation>> create_conversation(const std::string& owner_id, const std::string& title,
                                                    double now) override;
  Result<Conversation> get_conversation(const std::string& owner_id, const std::string& id,
                                        const ReadOptions& options) override;
  Result<PageOf<Conversation>> list_conversations(const std::string& owner_id, const Page& page,
                                                  const ReadOptions& options) override;
  Result<Written<Conversation>> rename_conversation(const std::string& owner_id, const std::string& id,
                                                    const std::string& title, double now) override;
  Result<Lsn> delete_conversation(const std::string& owner_id, const std::string& id) override;

  Result<Written<Message>> append_message(const std::string& owner_id, const Message& message) override;
  Result<Lsn> update_message(const std::string& owner_id, const Message& message) override;
  Result<Message> get_message(const std::string& owner_id, const std::string& conversation_id,
                              const std::string& message_id, const ReadOptions& options) override;
  Result<std::vector<Message>> recent_messages(const std::string& owner_id, const std::string& conversation_id,
                                               int limit, const ReadOptions& options) override;
  Result<PageOf<Message>> list_messages(const std::string& owner_id, const std::string& conversation_id,
                                        const Page& page, const ReadOptions& options) override;

  std::size_t size() const;  // conversations held (0 between requests)

 private:
  struct Held {
    Conversation conversation;
    std::vector<Message> messages;
  };
  Result<Held*> owned(const std::string& owner_id, const std::string& id);  // needs mu_ held

  mutable std::mutex mu_;
  std::map<std::string, Held> conversations_;  // guarded by mu_
  std::uint64_t next_id_ = 1;                  // guarded by mu_
};

struct CompletionRequest {
  Caller caller;
  std::vector<ChatTurn> history;  // earlier turns (system, user, assistant), oldest first
  std::string content;            // the last user turn
  std::int64_t max_tokens = 0;    // 0: the configured default
  double temperature = 1.0;
  double top_p = 1.0;                 // passed to the backend, like temperature
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;
};

class CompletionFlow {
 public:
  // `config` is the conversation service's; the flow drops its system prompt and raises the history
  // it loads to `max_turns`.
  CompletionFlow(Clock& clock, UsageStore& usage, MetricsSink& metrics, const Tokenizer& tokenizer,
                 std::vector<InferenceBackend*> backends, MessageComponents components, MessageServiceConfig config,
                 int max_turns = 1000);

  // InvalidArgument (context_length_exceeded) before any work when the turns do not fit; otherwise
  // the flow's outcome. `sink` sees the stream exactly as MessageService::send() drives it.
  SendOutcome complete(const CompletionRequest& request, StreamSink& sink);

  const MessageServiceConfig& config() const { return service_.config(); }
  const TransientStore& store() const { return store_; }

 private:
  Status check_context(const CompletionRequest& request) const;

  Clock& clock_;
  const Tokenizer& tokenizer_;
  TransientStore store_;
  MessageService service_;
};

}  // namespace chatscale::api
