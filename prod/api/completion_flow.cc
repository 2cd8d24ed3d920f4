#include "prod/api/completion_flow.h"

#include <algorithm>
#include <utility>

#include "context/context_builder.h"

namespace chatscale::api {

Result<TransientStore::Held*> TransientStore::owned(const std::string& owner_id, const std::string& id) {
  auto it = conversations_.find(id);
  if (it == conversations_.end() || it->second.conversation.owner_id != owner_id)
    return not_found("conversation " + id + " not found");
  return &it->second;
}

Result<Written<Conversation>> TransientStore::create_conversation(const std::string& owner_id, const std::string& title,
                                                                  double now) {
  std::lock_guard<std::mutex> lock(mu_);
  Conversation c;
  c.id = "tc-" + std::to_string(next_id_++);
  c.owner_id = owner_id;
  c.title = title;
  c.created_at = c.updated_at = now;
  conversations_[c.id] = Held{c, {}};
  return Written<Conversation>{c, 0, false};
}

Result<Conversation> TransientStore::get_conversation(const std::string& owner_id, const std::string& id,
                                                      const ReadOptions&) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, id));
  return held->conversation;
}

Result<PageOf<Conversation>> TransientStore::list_conversations(const std::string& owner_id, const Page&,
                                                                const ReadOptions&) {
  std::lock_guard<std::mutex> lock(mu_);
  PageOf<Conversation> page;
  for (const auto& [id, held] : conversations_)
    if (held.conversation.owner_id == owner_id) page.items.push_back(held.conversation);
  return page;
}

Result<Written<Conversation>> TransientStore::rename_conversation(const std::string& owner_id, const std::string& id,
                                                                  const std::string& title, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, id));
  held->conversation.title = title;
  held->conversation.updated_at = now;
  return Written<Conversation>{held->conversation, 0, false};
}

Result<Lsn> TransientStore::delete_conversation(const std::string& owner_id, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_RETURN_IF_ERROR(owned(owner_id, id).status());
  conversations_.erase(id);
  return Lsn{0};
}

Result<Written<Message>> TransientStore::append_message(const std::string& owner_id, const Message& message) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, message.conversation_id));
  if (!message.idempotency_key.empty()) {
    for (const auto& m : held->messages)
      if (m.idempotency_key == message.idempotency_key) return Written<Message>{m, 0, true};
  }
  Message stored = message;
  if (stored.id.empty()) stored.id = "tm-" + std::to_string(next_id_++);
  stored.seq = static_cast<std::int64_t>(held->messages.size()) + 1;
  held->messages.push_back(stored);
  held->conversation.message_count = stored.seq;
  held->conversation.updated_at = std::max(held->conversation.updated_at, stored.created_at);
  return Written<Message>{stored, 0, false};
}

Result<Lsn> TransientStore::update_message(const std::string& owner_id, const Message& message) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, message.conversation_id));
  for (auto& m : held->messages) {
    if (m.id != message.id) continue;
    m.content = message.content;
    m.status = message.status;
    m.finish_reason = message.finish_reason;
    m.usage = message.usage;
    m.moderation_categories = message.moderation_categories;
    return Lsn{0};
  }
  return not_found("message " + message.id + " not found");
}

Result<Message> TransientStore::get_message(const std::string& owner_id, const std::string& conversation_id,
                                            const std::string& message_id, const ReadOptions&) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, conversation_id));
  for (const auto& m : held->messages)
    if (m.id == message_id) return m;
  return not_found("message " + message_id + " not found");
}

Result<std::vector<Message>> TransientStore::recent_messages(const std::string& owner_id,
                                                             const std::string& conversation_id, int limit,
                                                             const ReadOptions&) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, conversation_id));
  std::size_t keep = std::min(held->messages.size(), static_cast<std::size_t>(std::max(0, limit)));
  return std::vector<Message>(held->messages.end() - static_cast<std::ptrdiff_t>(keep), held->messages.end());
}

Result<PageOf<Message>> TransientStore::list_messages(const std::string& owner_id, const std::string& conversation_id,
                                                      const Page&, const ReadOptions&) {
  std::lock_guard<std::mutex> lock(mu_);
  CS_ASSIGN_OR_RETURN(Held * held, owned(owner_id, conversation_id));
  return PageOf<Message>{held->messages, ""};
}

std::size_t TransientStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return conversations_.size();
}

namespace {

MessageServiceConfig completion_config(MessageServiceConfig config, int max_turns) {
  config.system_prompt.clear();  // the caller's own system turns are in the request
  config.history_messages = std::max(config.history_messages, max_turns);
  return config;
}

}  // namespace

CompletionFlow::CompletionFlow(Clock& clock, UsageStore& usage, MetricsSink& metrics, const Tokenizer& tokenizer,
                               std::vector<InferenceBackend*> backends, MessageComponents components,
                               MessageServiceConfig config, int max_turns)
    : clock_(clock),
      tokenizer_(tokenizer),
      service_(MessagePorts{clock, store_, store_, usage, metrics, tokenizer, std::move(backends)}, components,
               completion_config(std::move(config), max_turns)) {}

Status CompletionFlow::check_context(const CompletionRequest& request) const {
  const auto& config = service_.config();
  if (static_cast<int>(request.history.size()) >= config.history_messages)
    return invalid_argument("messages: at most " + std::to_string(config.history_messages) + " messages");
  const ContextBudget budget;  // the per-turn template overhead the flow's context builder uses
  std::int64_t max_tokens = request.max_tokens > 0 ? request.max_tokens : config.default_max_tokens;
  std::int64_t prompt = tokenizer_.count_tokens(request.content) + budget.per_message_overhead_tokens;
  for (const auto& turn : request.history) prompt += tokenizer_.count_tokens(turn.content) + budget.per_message_overhead_tokens;
  if (prompt + max_tokens > config.context_window_tokens)
    return invalid_argument("context_length_exceeded: the messages take " + std::to_string(prompt) +
                            " tokens and max_tokens " + std::to_string(max_tokens) + ", over the context window of " +
                            std::to_string(config.context_window_tokens) + " tokens");
  return Status::ok();
}

SendOutcome CompletionFlow::complete(const CompletionRequest& request, StreamSink& sink) {
  SendOutcome refused;
  refused.status = check_context(request);
  if (!refused.status.is_ok()) return refused;
  const std::string& owner = request.caller.user_id;
  auto conversation = store_.create_conversation(owner, "", clock_.now());
  if (!conversation.is_ok()) {
    refused.status = conversation.status();
    return refused;
  }
  const std::string id = conversation->value.id;
  double now = clock_.now();
  for (const auto& turn : request.history) {
    Message m;
    m.conversation_id = id;
    m.role = turn.role;
    m.content = turn.content;
    m.created_at = now;
    (void)store_.append_message(owner, m);  // cannot fail: the conversation is ours and in memory
  }
  SendRequest send;
  send.caller = request.caller;
  send.caller.read_lsn = 0;
  send.conversation_id = id;
  send.content = request.content;
  send.max_tokens = request.max_tokens;
  send.temperature = request.temperature;
  send.top_p = request.top_p;
  send.seed = request.seed;
  send.stop = request.stop;
  SendOutcome outcome = service_.send(send, sink);
  (void)store_.delete_conversation(owner, id);
  return outcome;
}

}  // namespace chatscale::api
