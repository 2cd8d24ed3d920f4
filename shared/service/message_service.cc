#include "service/message_service.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace chatscale {

// One send() call's working state.
struct MessageService::Flow {
  Flow(const SendRequest& r, StreamSink& s, double now) : req(r), sink(s), received_at(now) {}

  const SendRequest& req;
  StreamSink& sink;
  double received_at;
  std::int64_t max_tokens = 0;
  std::int64_t reserved_tokens = 0;
  bool holds_slot = false;        // a concurrency slot of the rate limiter
  bool generating = false;        // the user message is stored and an answer is owed
  SendOutcome out;
  BuiltContext context;
  std::unique_ptr<InferenceStream> stream;
  std::optional<InferenceEvent> first_event;
  std::optional<StreamModerator> output_moderation;
  std::string answer;
  std::int64_t completion_tokens = 0;
  std::int64_t egress_bytes = 0;
  Usage usage;                    // from the backend's done event when it came
  FinishReason finish = FinishReason::kNone;
  bool sink_open = true;
  bool counted_stream = false;    // chatscale_active_streams was raised for this flow
  double first_token_at = -1;
  double last_checkpoint_at = 0;
  std::int64_t checkpointed_tokens = 0;
};

MessageService::MessageService(MessagePorts ports, MessageComponents components, MessageServiceConfig config)
    : ports_(std::move(ports)), components_(components), config_(std::move(config)) {}

SendOutcome MessageService::send(const SendRequest& request, StreamSink& sink) {
  Flow flow(request, sink, ports_.clock.now());
  flow.max_tokens = request.max_tokens > 0 ? request.max_tokens : config_.default_max_tokens;
  Status status = validate(request, flow.max_tokens);
  if (status.is_ok()) status = admit(flow);
  if (status.is_ok()) status = prepare(flow);
  if (status.is_ok()) status = persist_user_message(flow);
  if (status.is_ok() && !replay_if_answered(flow)) {
    status = start_generation(flow);
    if (status.is_ok()) stream_answer(flow);
  }
  if (flow.out.status.is_ok()) flow.out.status = status;
  finish(flow);
  return std::move(flow.out);
}

Status MessageService::validate(const SendRequest& request, std::int64_t max_tokens) const {
  if (request.caller.user_id.empty()) return unauthenticated("no caller");
  if (request.conversation_id.empty()) return invalid_argument("conversation_id is required");
  if (request.content.empty()) return invalid_argument("content: a message cannot be empty");
  if (static_cast<std::int64_t>(request.content.size()) > config_.max_message_bytes)
    return payload_too_large("content: " + std::to_string(request.content.size()) + " bytes exceeds the limit of " +
                             std::to_string(config_.max_message_bytes));
  if (max_tokens < 1 || max_tokens > config_.context_window_tokens)
    return invalid_argument("max_tokens: must be between 1 and " + std::to_string(config_.context_window_tokens));
  if (request.idempotency_key.size() > 255) return invalid_argument("idempotency key: longer than 255 bytes");
  return Status::ok();
}

// Step 2: reserve the prompt (as far as it is known now) plus the answer budget, and a concurrency slot.
Status MessageService::admit(Flow& flow) {
  const Tier* tier = components_.rate_limiter.find_tier(flow.req.caller.tier);
  if (tier == nullptr) return invalid_argument("unknown tier \"" + flow.req.caller.tier + "\"");
  if (tier->max_output_tokens > 0) flow.max_tokens = std::min(flow.max_tokens, tier->max_output_tokens);
  flow.reserved_tokens = ports_.tokenizer.count_tokens(flow.req.content) + flow.max_tokens;
  auto decision = components_.rate_limiter.acquire(flow.req.caller.user_id, flow.req.caller.tier,
                                                   flow.reserved_tokens, flow.received_at);
  if (!decision.is_ok()) return decision.status();
  flow.out.rate = *decision;
  if (!decision->allowed) {
    ports_.metrics.add(MetricId::kRateLimited, {flow.req.caller.tier, rate_limit_kind_name(decision->limited_by)}, 1);
    return decision->to_status();
  }
  flow.holds_slot = true;
  return Status::ok();
}

// Steps 3 and 4: moderate the input, then load the conversation and build the model's context.
Status MessageService::prepare(Flow& flow) {
  ModerationResult verdict = components_.moderator.classify(flow.req.content);
  if (verdict.flagged) {
    for (const auto& category : verdict.categories)
      ports_.metrics.add(MetricId::kModerationFlagged, {"input", category}, 1);
    flow.out.flagged_categories = verdict.categories;
    std::string list;
    for (const auto& c : verdict.categories) list += (list.empty() ? "" : ", ") + c;
    return invalid_argument("message flagged by moderation: " + list);
  }
  ReadOptions read{flow.req.caller.read_lsn, flow.req.caller.read_token_issued_at, false};
  const auto& owner = flow.req.caller.user_id;
  CS_RETURN_IF_ERROR(ports_.conversations.get_conversation(owner, flow.req.conversation_id, read).status());
  CS_ASSIGN_OR_RETURN(auto history, ports_.messages.recent_messages(owner, flow.req.conversation_id,
                                                                    config_.history_messages, read));
  // An idempotent retry builds the context the first attempt saw: history up to its earlier twin.
  const auto& key = flow.req.idempotency_key;
  auto twin = std::find_if(history.begin(), history.end(), [&](const Message& m) {
    return !key.empty() && m.role == Role::kUser && m.idempotency_key == key;
  });
  history.erase(twin, history.end());
  ContextBudget budget{config_.context_window_tokens, flow.max_tokens};
  CS_ASSIGN_OR_RETURN(flow.context, build_context(config_.system_prompt, history, flow.req.content,
                                                  ports_.tokenizer, budget));
  return Status::ok();
}

// Step 5: the user message is durable before anything streams.
Status MessageService::persist_user_message(Flow& flow) {
  Message m;
  m.conversation_id = flow.req.conversation_id;
  m.role = Role::kUser;
  m.content = flow.req.content;
  m.idempotency_key = flow.req.idempotency_key;
  m.created_at = flow.received_at;
  m.usage.prompt_tokens = ports_.tokenizer.count_tokens(m.content);
  CS_ASSIGN_OR_RETURN(auto written, ports_.messages.append_message(flow.req.caller.user_id, m));
  flow.out.user_message = written.value;
  flow.out.replayed = written.existing;
  flow.out.lsn = std::max(flow.out.lsn, written.lsn);
  flow.generating = true;
  return Status::ok();
}

// An idempotent retry whose answer is already stored gets that answer again, not a second generation.
bool MessageService::replay_if_answered(Flow& flow) {
  if (!flow.out.replayed) return false;
  ReadOptions primary{0, 0, true};
  auto recent = ports_.messages.recent_messages(flow.req.caller.user_id, flow.req.conversation_id,
                                                config_.history_messages, primary);
  if (!recent.is_ok()) return false;
  for (const auto& m : *recent) {
    bool answer = m.role == Role::kAssistant && m.seq == flow.out.user_message.seq + 1;
    if (!answer || m.finish_reason == FinishReason::kError || m.status == MessageStatus::kStreaming) continue;
    flow.out.assistant_message = m;
    flow.generating = false;
    flow.out.streamed = true;
    flow.sink_open = flow.sink.on_user_message(flow.out.user_message);
    if (flow.sink_open) flow.sink_open = flow.sink.on_delta(m.content, m.usage.completion_tokens,
                                                            static_cast<std::int64_t>(m.content.size()));
    return true;
  }
  return false;
}

// Step 6: route, admit, and wait for the first token; a backend that refuses, fails or stays silent
// before the first token is replaced by the next one in routing order.
Status MessageService::start_generation(Flow& flow) {
  std::vector<RouteCandidate> candidates;
  for (std::size_t i = 0; i < ports_.backends.size(); ++i) candidates.push_back({i, ports_.backends[i]->load()});
  auto order = route_order(candidates, flow.req.caller.region, config_.routing,
                           route_draws_.fetch_add(0x9E3779B97F4A7C15ULL));
  InferenceRequest request{std::to_string(flow.received_at) + "/" + flow.out.user_message.id,
                           config_.model, flow.context.turns, flow.context.prompt_tokens, flow.max_tokens,
                           flow.req.temperature, flow.req.caller.tier, flow.req.caller.region, 0,
                           flow.req.top_p, flow.req.seed, flow.req.stop};
  Status last = unavailable("no healthy inference backend");
  int attempts = 0;
  for (std::size_t index : order) {
    if (attempts++ >= config_.max_backend_attempts) break;
    InferenceBackend& backend = *ports_.backends[index];
    auto stream = backend.start(request);
    if (!stream.is_ok()) {
      ports_.metrics.add(MetricId::kInferenceAttempts, {backend.name(), "refused"}, 1);
      last = stream.status();
      continue;
    }
    flow.stream = std::move(stream).value();
    if (!flow.out.streamed) {
      flow.out.streamed = true;
      flow.counted_stream = true;
      ports_.metrics.change(MetricId::kActiveStreams, {}, 1);
      flow.sink_open = flow.sink.on_user_message(flow.out.user_message);
    }
    auto first = next_event(flow, ports_.clock.now() + config_.first_token_timeout_s);
    if (first.is_ok() && first->kind != InferenceEvent::Kind::kError) {
      flow.first_event = std::move(first).value();
      flow.out.backend = backend.name();
      ports_.metrics.add(MetricId::kInferenceAttempts, {backend.name(), "ok"}, 1);
      return Status::ok();
    }
    last = first.is_ok() ? first->error : first.status();
    flow.stream->cancel();
    flow.stream.reset();
    ports_.metrics.add(MetricId::kInferenceAttempts, {backend.name(), "retried"}, 1);
  }
  flow.finish = FinishReason::kError;
  return Status(last.code() == StatusCode::kDeadlineExceeded ? StatusCode::kDeadlineExceeded
                                                             : StatusCode::kUnavailable,
                "no inference backend answered: " + last.message());
}

// Reads the next event, sending heartbeats while the model is silent, until the stall deadline.
Result<InferenceEvent> MessageService::next_event(Flow& flow, double stall_deadline) {
  for (;;) {
    double beat = ports_.clock.now() + config_.heartbeat_interval_s;
    auto event = flow.stream->next(std::min(beat, stall_deadline));
    if (event.is_ok() || event.status().code() != StatusCode::kDeadlineExceeded) return event;
    if (ports_.clock.now() >= stall_deadline) return event;
    if (flow.sink_open) flow.sink_open = flow.sink.on_heartbeat();
  }
}

// Step 7: relay deltas, moderating the output as it grows and checkpointing the answer.
void MessageService::stream_answer(Flow& flow) {
  flow.output_moderation.emplace(components_.moderator);
  flow.first_token_at = ports_.clock.now();
  flow.out.ttft_s = flow.first_token_at - flow.received_at;
  flow.last_checkpoint_at = flow.first_token_at;
  std::optional<InferenceEvent> event = std::move(flow.first_event);
  while (event) {
    if (event->kind == InferenceEvent::Kind::kDone) {
      flow.usage = event->usage;
      flow.finish = event->finish_reason == FinishReason::kNone ? FinishReason::kStop : event->finish_reason;
      return;
    }
    if (event->kind == InferenceEvent::Kind::kError) {
      flow.finish = FinishReason::kError;
      flow.out.status = event->error;
      return;
    }
    ModerationResult verdict = flow.output_moderation->append(event->text);
    if (verdict.flagged) {
      flow.finish = FinishReason::kContentFilter;
      flow.out.flagged_categories = verdict.categories;
      for (const auto& category : verdict.categories)
        ports_.metrics.add(MetricId::kModerationFlagged, {"output", category}, 1);
      flow.stream->cancel();
      return;
    }
    flow.answer += event->text;
    flow.completion_tokens += event->tokens;
    flow.egress_bytes += event->bytes;
    if (flow.sink_open) flow.sink_open = flow.sink.on_delta(event->text, event->tokens, event->bytes);
    checkpoint(flow, false);
    auto next = next_event(flow, ports_.clock.now() + config_.stall_timeout_s);
    if (!next.is_ok()) next = InferenceEvent::failure(next.status());
    event = std::move(next).value();
  }
}

// Writes the growing answer: the first time as a new message in status streaming, then at the checkpoint
// cadence, and finally (final=true) with its end status, retried before it counts as lost.
void MessageService::checkpoint(Flow& flow, bool final) {
  double now = ports_.clock.now();
  bool due = flow.out.assistant_message.id.empty() ||
             flow.completion_tokens - flow.checkpointed_tokens >= config_.checkpoint_tokens ||
             now - flow.last_checkpoint_at >= config_.checkpoint_interval_s;
  if (!final && !due) return;
  Message& m = flow.out.assistant_message;
  m.conversation_id = flow.req.conversation_id;
  m.role = Role::kAssistant;
  m.content = flow.answer;
  m.model = config_.model;
  m.finish_reason = final ? flow.finish : FinishReason::kNone;
  bool complete = flow.finish == FinishReason::kStop || flow.finish == FinishReason::kLength;
  m.status = !final ? MessageStatus::kStreaming : complete ? MessageStatus::kComplete : MessageStatus::kPartial;
  m.usage = flow.usage.total() > 0 ? flow.usage : Usage{flow.context.prompt_tokens, flow.completion_tokens};
  m.moderation_categories = flow.out.flagged_categories;
  if (m.created_at == 0) m.created_at = now;
  const auto& owner = flow.req.caller.user_id;
  int attempts = final ? std::max(1, config_.final_write_attempts) : 1;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) ports_.clock.sleep_for(config_.final_write_backoff_s * (1 << (i - 1)));
    if (m.id.empty()) {
      auto written = ports_.messages.append_message(owner, m);
      if (written.is_ok()) {
        m = written->value;
        flow.out.lsn = std::max(flow.out.lsn, written->lsn);
        break;
      }
    } else if (auto lsn = ports_.messages.update_message(owner, m); lsn.is_ok()) {
      flow.out.lsn = std::max(flow.out.lsn, *lsn);
      break;
    }
    if (final && i + 1 == attempts) {
      ports_.metrics.add(MetricId::kMessagesLost, {}, 1);
      flow.out.status = internal_error("the answer could not be stored");
    }
  }
  flow.checkpointed_tokens = flow.completion_tokens;
  flow.last_checkpoint_at = now;
}

// Step 8: store the answer, settle usage and limits, close the stream, record metrics. Runs on every path.
void MessageService::finish(Flow& flow) {
  if (flow.stream) flow.stream->cancel();  // no-op when it ended by itself
  if (flow.generating) {
    if (flow.finish == FinishReason::kNone) flow.finish = FinishReason::kError;
    checkpoint(flow, true);
  }
  Usage billed = flow.generating ? flow.out.assistant_message.usage : Usage{};
  if (billed.total() > 0) {
    auto lsn = ports_.usage.record_usage(flow.req.caller.user_id, config_.model, billed, ports_.clock.now());
    if (lsn.is_ok()) flow.out.lsn = std::max(flow.out.lsn, *lsn);
  }
  const auto& caller = flow.req.caller;
  if (flow.reserved_tokens > 0 && flow.out.rate && flow.out.rate->allowed) {
    (void)components_.rate_limiter.reconcile(caller.user_id, caller.tier, flow.reserved_tokens, billed.total(),
                                             ports_.clock.now());
  }
  if (flow.holds_slot) (void)components_.rate_limiter.release(caller.user_id, caller.tier, ports_.clock.now());
  if (flow.out.streamed) flow.sink.on_done(flow.out.assistant_message);
  if (flow.counted_stream) ports_.metrics.change(MetricId::kActiveStreams, {}, -1);
  flow.out.client_gone = !flow.sink_open;
  record(flow);
}

// The outcome label of chatscale_messages_total.
std::string_view MessageService::outcome(const Flow& flow) {
  switch (flow.out.status.code()) {
    case StatusCode::kOk: return flow.finish == FinishReason::kContentFilter ? "content_filter" : "ok";
    case StatusCode::kRateLimited: return "rate_limited";
    case StatusCode::kUnavailable: return "overloaded";
    case StatusCode::kInvalidArgument: return flow.out.flagged_categories.empty() ? "invalid" : "moderated";
    default: return "error";
  }
}

void MessageService::record(const Flow& flow) {
  const std::string& tier = flow.req.caller.tier;
  ports_.metrics.add(MetricId::kMessages, {tier, outcome(flow)}, 1);
  if (flow.first_token_at < 0) return;
  double end = ports_.clock.now();
  ports_.metrics.observe(MetricId::kTimeToFirstToken, {tier}, flow.out.ttft_s);
  ports_.metrics.observe(MetricId::kE2eLatency, {tier}, end - flow.received_at);
  if (flow.completion_tokens > 1)
    ports_.metrics.observe(MetricId::kTimePerOutputToken, {tier},
                           (end - flow.first_token_at) / static_cast<double>(flow.completion_tokens - 1));
  ports_.metrics.add(MetricId::kPromptTokens, {tier}, static_cast<double>(flow.out.assistant_message.usage.prompt_tokens));
  ports_.metrics.add(MetricId::kGenerationTokens, {tier}, static_cast<double>(flow.completion_tokens));
  ports_.metrics.add(MetricId::kStreamEgressBytes, {}, static_cast<double>(flow.egress_bytes));
}

}  // namespace chatscale
