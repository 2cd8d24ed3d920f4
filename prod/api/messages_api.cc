// Sending a message and following its answer: POST /conversations/{id}/messages starts the shared
// message flow in the generation hub and streams its events as text/event-stream; .../stream resumes
// a stream after Last-Event-ID (from memory, or from the stored answer once the generation is gone,
// following the stored row while another instance still generates it); .../stop cancels a running
// generation (here, or on another instance through a stop request in the store) and answers with the
// stored partial answer.
#include <memory>

#include "prod/api/api_json.h"
#include "prod/api/api_routes.h"
#include "prod/api/exchange.h"
#include "prod/api/generation_hub.h"
#include "prod/api/json_body.h"
#include "replica/read_token.h"

namespace chatscale::api {
namespace {

constexpr double kForever = 1e300;
constexpr int kRecentForResume = 20;

Status check_idempotency_key(std::string_view key) {
  if (key.size() > 255) return invalid_argument("Idempotency-Key: longer than 255 bytes");
  for (unsigned char c : key)
    if (c < 0x21 || c > 0x7e) return invalid_argument("Idempotency-Key: only visible ASCII characters are allowed");
  return Status::ok();
}

http::HttpResponse stream_head(const Exchange& ex, const std::string& message_id) {
  http::HttpResponse head;
  head.status = 200;
  head.content_type = "text/event-stream; charset=utf-8";
  head.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}, {"x-chatscale-message-id", message_id}};
  for (const auto& header : ex.headers()) head.headers.push_back(header);
  return head;
}

class MessagesApi {
 public:
  explicit MessagesApi(ApiContext& ctx) : ctx_(ctx) {}

  void send(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate(/*with_rate_headers=*/false)) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto send_request = read_send_request(ex, *read);
    if (!send_request) return;
    if (join_elsewhere(ex, *send_request)) return;
    auto generation = ctx_.hub.start(std::move(*send_request));
    if (!generation.is_ok()) return ex.error(generation.status());
    auto& g = *generation;
    while (!g->wait_started(kForever)) {
    }
    if (!g->began()) return refuse(ex, g->outcome());
    ex.peek_rate_headers();  // after the flow's reservation: what is left for the next request
    follow(ex, *g, 0);
  }

  void resume(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    const std::string conversation_id = request.param("id");
    const std::string message_id = request.param("message_id");
    std::uint64_t last = 0;
    if (auto header = request.header("last-event-id"); header && !header->empty()) {
      auto n = parse_event_id(*header, message_id);
      if (!n.is_ok()) return ex.error(n.status());
      last = *n;
    }
    if (auto g = ctx_.hub.find(ex.principal().user_id, conversation_id, message_id)) return follow(ex, *g, last);
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto answer = stored_answer(ex, conversation_id, message_id, *read);
    if (!answer.is_ok() && answer.status().code() == StatusCode::kNotFound)  // a lagging replica
      answer = stored_answer(ex, conversation_id, message_id, ReadOptions{0, 0, true});
    if (!answer.is_ok() && unanswered_user_message(ex, conversation_id, message_id))
      answer = await_answer(ex, conversation_id, message_id);  // another instance, before its first token
    if (!answer.is_ok()) return ex.error(answer.status());
    if (answer->status == MessageStatus::kStreaming) return follow_stored(ex, conversation_id, message_id, *answer, last);
    // The generation is no longer in memory: the whole stored answer replaces what the client has.
    if (!ex.writer().begin_stream(stream_head(ex, message_id))) return;
    if (!ex.writer().write(delta_event(message_id, answer->content, last + 1, /*replace=*/true))) return;
    if (!ex.writer().write(done_event(message_id, *answer, Status::ok(), "", last + 2))) return;
    ex.writer().end_stream();
  }

  void stop(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    const std::string conversation_id = request.param("id");
    const std::string message_id = request.param("message_id");
    if (auto g = ctx_.hub.find(ex.principal().user_id, conversation_id, message_id)) {
      g->request_cancel();
      if (!g->wait_finished(ctx_.clock.now() + ctx_.options.stop_wait_s))
        return ex.json(202, {{"status", "stopping"}, {"message_id", message_id}});
      SendOutcome outcome = g->outcome();
      ex.add_read_token(outcome.lsn);
      return ex.json(200, {{"message", message_json(outcome.assistant_message)}});
    }
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto answer = stored_answer(ex, conversation_id, message_id, *read);
    if (!answer.is_ok() && answer.status().code() == StatusCode::kNotFound)  // a lagging replica
      answer = stored_answer(ex, conversation_id, message_id, ReadOptions{0, 0, true});
    if (!answer.is_ok() && unanswered_user_message(ex, conversation_id, message_id)) {
      Message pending;  // another instance, before its first token: no answer row yet
      pending.status = MessageStatus::kStreaming;
      answer = pending;
    }
    if (!answer.is_ok()) return ex.error(answer.status());
    if (answer->status == MessageStatus::kStreaming) return stop_elsewhere(ex, conversation_id, message_id, *answer);
    ex.json(200, {{"message", message_json(*answer)}});  // already ended: nothing to stop
  }

 private:
  // Another instance generates this answer: its stored row is followed on the primary until it ends.
  // The first event replaces what the client has with the text stored so far, each later one appends
  // what the owner checkpointed since, and done ends it; ids go on from Last-Event-ID, so a client
  // that switches instances sees one increasing sequence.
  void follow_stored(Exchange& ex, const std::string& conversation_id, const std::string& message_id, Message answer,
                     std::uint64_t last, const std::string& first_frame = "") {
    auto& writer = ex.writer();
    if (!writer.begin_stream(stream_head(ex, message_id))) return;
    if (!first_frame.empty() && !writer.write(first_frame)) return;
    std::uint64_t n = last;
    if (!writer.write(delta_event(message_id, answer.content, ++n, /*replace=*/true))) return;
    const ReadOptions primary{0, 0, true};
    const double deadline = ctx_.clock.now() + ctx_.options.remote_follow_s;
    double written_at = ctx_.clock.now();
    Status status = Status::ok();
    while (answer.status == MessageStatus::kStreaming) {
      if (ctx_.clock.now() > deadline) {
        status = deadline_exceeded("the answer did not end in time; resume again later");
        break;
      }
      ctx_.clock.sleep_for(ctx_.options.remote_poll_s);
      auto next = ctx_.stores.messages.get_message(ex.principal().user_id, conversation_id, answer.id, primary);
      if (!next.is_ok()) {
        if (next.status().code() == StatusCode::kNotFound) return writer.end_stream();  // deleted meanwhile
        continue;  // a transient failure: the next poll asks again
      }
      const std::string& text = next->content;
      std::string frame;
      if (text.size() > answer.content.size() && text.compare(0, answer.content.size(), answer.content) == 0)
        frame = delta_event(message_id, std::string_view(text).substr(answer.content.size()), ++n);
      else if (text != answer.content)
        frame = delta_event(message_id, text, ++n, /*replace=*/true);
      else if (ctx_.clock.now() - written_at >= ctx_.options.heartbeat_interval_s)
        frame = heartbeat_comment();
      if (!frame.empty()) {
        if (!writer.write(frame)) return;
        written_at = ctx_.clock.now();
      }
      answer = std::move(next).value();
    }
    if (writer.write(done_event(message_id, answer, status, "", ++n))) writer.end_stream();
  }

  // An idempotent retry of a message whose answer another instance is generating (not in this hub,
  // its stored answer still 'streaming') joins it: the message event, then the stored answer followed
  // as resume does. True when it answered; false to start (or join here) as usual.
  bool join_elsewhere(Exchange& ex, const SendRequest& request) {
    const std::string& key = request.idempotency_key;
    const std::string& owner = request.caller.user_id;
    if (key.empty() || ctx_.hub.holds(owner, request.conversation_id, key)) return false;
    auto recent = ctx_.stores.messages.recent_messages(owner, request.conversation_id, kRecentForResume,
                                                       ReadOptions{0, 0, true});
    if (!recent.is_ok()) return false;  // the flow reads again and reports
    const Message* user = nullptr;
    for (const auto& m : *recent) {
      if (m.role == Role::kUser && m.idempotency_key == key) user = &m;
      if (user && m.role == Role::kAssistant && m.seq == user->seq + 1 && m.status == MessageStatus::kStreaming) {
        follow_stored(ex, request.conversation_id, user->id, m, 1, message_event(*user, 1));
        return true;
      }
    }
    return false;
  }

  // True when `message_id` is a stored user message of the caller without a stored answer (asked of
  // the primary): the answer may still come from a generation on another instance.
  bool unanswered_user_message(Exchange& ex, const std::string& conversation_id, const std::string& message_id) {
    const ReadOptions primary{0, 0, true};
    auto user = ctx_.stores.messages.get_message(ex.principal().user_id, conversation_id, message_id, primary);
    if (!user.is_ok() || user->role != Role::kUser) return false;
    auto answer = stored_answer(ex, conversation_id, message_id, primary);
    return !answer.is_ok() && answer.status().code() == StatusCode::kNotFound;
  }

  // Polls the primary for the answer's row until it appears or the first-token timeout passes.
  Result<Message> await_answer(Exchange& ex, const std::string& conversation_id, const std::string& message_id) {
    const double deadline = ctx_.clock.now() + ctx_.messages.config().first_token_timeout_s;
    for (;;) {
      auto answer = stored_answer(ex, conversation_id, message_id, ReadOptions{0, 0, true});
      if (answer.is_ok() || answer.status().code() != StatusCode::kNotFound || ctx_.clock.now() > deadline)
        return answer;
      ctx_.clock.sleep_for(ctx_.options.remote_poll_s);
    }
  }

  // Another instance generates this answer: a stop request is written for it (its hub polls for them)
  // and the stored row is watched until it ends (200 with it) or stop_wait_s passes (202).
  void stop_elsewhere(Exchange& ex, const std::string& conversation_id, const std::string& message_id,
                      Message answer) {
    const std::string& owner = ex.principal().user_id;
    auto lsn = ctx_.stores.messages.request_stop(owner, conversation_id, message_id, ctx_.clock.now());
    if (!lsn.is_ok()) return ex.error(lsn.status());
    ex.add_read_token(*lsn);
    const double deadline = ctx_.clock.now() + ctx_.options.stop_wait_s;
    while (answer.status == MessageStatus::kStreaming && ctx_.clock.now() < deadline) {
      ctx_.clock.sleep_for(ctx_.options.remote_poll_s);
      auto next = stored_answer(ex, conversation_id, message_id, ReadOptions{0, 0, true});
      if (next.is_ok()) answer = std::move(next).value();
    }
    if (answer.status == MessageStatus::kStreaming)
      return ex.json(202, {{"status", "stopping"}, {"message_id", message_id}});
    ex.json(200, {{"message", message_json(answer)}});
  }

  std::optional<SendRequest> read_send_request(Exchange& ex, const ReadOptions& read) {
    auto body = ex.json_body();
    if (!body) return std::nullopt;
    SendRequest r;
    r.caller = ex.caller(read);
    r.conversation_id = ex.request().param("id");
    const auto& config = ctx_.messages.config();
    FieldReader fields(*body);
    // Size is the flow's to judge (413 over max_message_bytes); here only type and emptiness.
    fields.text("content", r.content, TextRule{true, 1, static_cast<std::size_t>(config.max_message_bytes) * 4});
    fields.integer("max_tokens", r.max_tokens, 1, config.context_window_tokens);
    fields.number("temperature", r.temperature, 0, 2);
    Status status = fields.finish();
    if (auto key = ex.request().header("idempotency-key"); status.is_ok() && key) {
      status = check_idempotency_key(*key);
      r.idempotency_key = std::string(*key);
    }
    if (!status.is_ok()) {
      ex.error(status);
      return std::nullopt;
    }
    return r;
  }

  // A send refused before anything streamed: rate limited (429, Retry-After), flagged (400 with the
  // categories), conversation not found (404), overloaded (503), too large (413).
  void refuse(Exchange& ex, const SendOutcome& outcome) {
    if (outcome.rate) ex.set_rate_headers(outcome_headers(outcome));
    else ex.add_headers(outcome_headers(outcome));
    if (!outcome.flagged_categories.empty())
      return ex.error(outcome.status, {{"categories", outcome.flagged_categories}});
    ex.error(outcome.status);
  }

  // Writes the generation's events from index `from` on, as they come, with heartbeats while the
  // model is silent. Returns when the stream is complete or the client has gone (the generation
  // goes on either way).
  void follow(Exchange& ex, Generation& g, std::uint64_t from) {
    auto& writer = ex.writer();
    if (!writer.begin_stream(stream_head(ex, g.message_id()))) return;
    std::size_t next = static_cast<std::size_t>(from);
    std::uint64_t heartbeats = 0;
    for (;;) {
      auto batch = g.read(next, heartbeats, ctx_.clock.now() + ctx_.options.heartbeat_interval_s);
      for (const auto& frame : batch.frames)
        if (!writer.write(frame)) return;
      if (batch.finished) break;
      bool quiet = batch.frames.empty();  // the model's heartbeat, or a whole interval of silence
      next = batch.next;
      heartbeats = batch.heartbeats;
      if (quiet && !writer.write(heartbeat_comment())) return;
    }
    writer.end_stream();
  }

  // The answer to `message_id` as stored: the message itself when it is the assistant's, else the
  // assistant message that follows it (seq + 1). NotFound when there is none (yet).
  Result<Message> stored_answer(Exchange& ex, const std::string& conversation_id, const std::string& message_id,
                                const ReadOptions& read) {
    const std::string& owner = ex.principal().user_id;
    CS_ASSIGN_OR_RETURN(Message message, ctx_.stores.messages.get_message(owner, conversation_id, message_id, read));
    if (message.role == Role::kAssistant) return message;
    auto is_answer = [&](const Message& m) { return m.role == Role::kAssistant && m.seq == message.seq + 1; };
    CS_ASSIGN_OR_RETURN(auto recent, ctx_.stores.messages.recent_messages(owner, conversation_id, kRecentForResume, read));
    for (const auto& m : recent)
      if (is_answer(m)) return m;
    Page page;
    page.limit = 200;
    for (;;) {  // an older message: walk the history (rare: resumes are of recent answers)
      CS_ASSIGN_OR_RETURN(auto found, ctx_.stores.messages.list_messages(owner, conversation_id, page, read));
      for (const auto& m : found.items) {
        if (is_answer(m)) return m;
        if (m.seq > message.seq + 1) return not_found("no answer is stored for message " + message_id);
      }
      if (found.next_cursor.empty()) break;
      page.cursor = found.next_cursor;
    }
    return not_found("no answer is stored for message " + message_id);
  }

  ApiContext& ctx_;
};

}  // namespace

Routes message_routes(ApiContext& ctx) {
  auto api = std::make_shared<MessagesApi>(ctx);
  auto bind = [api](void (MessagesApi::*method)(http::HttpRequest&, http::ResponseWriter&)) {
    return [api, method](http::HttpRequest& request, http::ResponseWriter& writer) { ((*api).*method)(request, writer); };
  };
  return {
      {"POST", "/conversations/{id}/messages", bind(&MessagesApi::send)},
      {"GET", "/conversations/{id}/messages/{message_id}/stream", bind(&MessagesApi::resume)},
      {"POST", "/conversations/{id}/messages/{message_id}/stop", bind(&MessagesApi::stop)},
  };
}

}  // namespace chatscale::api
