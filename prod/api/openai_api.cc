// The OpenAI-compatible chat completions endpoint, POST /v1/chat/completions, over the CompletionFlow
// (the shared message flow on a throwaway conversation): same authentication (an API key or a JWT as
// Bearer), rate limits, moderation and backends as the conversation API. Streamed (stream: true) as
// OpenAI streams: `data: {chat.completion.chunk}` events, the first with the assistant role, one per
// delta, one with the finish reason, an optional usage chunk with empty choices
// (stream_options.include_usage), then `data: [DONE]`. Unlike a conversation's generation, a
// completion belongs to its connection: a client that goes away cancels it (as OpenAI-compatible
// servers do), and the tokens produced so far are billed. The request and response formats are
// openai_wire.h's (shared with `chatscale engine`); top_p, seed and stop go to the backend.
#include <cmath>
#include <memory>

#include "prod/api/api_json.h"
#include "prod/api/api_routes.h"
#include "prod/api/cancellable_backend.h"
#include "prod/api/completion_flow.h"
#include "prod/api/exchange.h"
#include "prod/api/json_body.h"
#include "prod/api/openai_wire.h"
#include "prod/http/responses.h"

namespace chatscale::api {
namespace {

struct ChatRequest {
  std::string model;
  CompletionRequest completion;
  bool stream = false;
  bool include_usage = false;
};

Result<ChatRequest> read_chat_request(const nlohmann::json& body, const ApiContext& ctx) {
  const auto& config = ctx.completions.config();
  ChatWireLimits limits;
  limits.max_tokens = config.context_window_tokens;
  limits.max_messages = ctx.options.max_completion_messages;
  CS_ASSIGN_OR_RETURN(ChatWireRequest wire, parse_chat_request(body, limits));
  if (wire.messages.back().role != Role::kUser)
    return invalid_argument("messages: the last message must have role \"user\"");
  if (wire.model != config.model)
    return not_found("model_not_found: the model \"" + wire.model + "\" does not exist; this server serves \"" +
                     config.model + "\"");
  ChatRequest r;
  r.model = std::move(wire.model);
  r.stream = wire.stream;
  r.include_usage = wire.include_usage;
  CompletionRequest& c = r.completion;
  c.content = std::move(wire.messages.back().content);
  wire.messages.pop_back();
  c.history = std::move(wire.messages);
  c.max_tokens = wire.max_tokens;
  c.temperature = wire.temperature;
  c.top_p = wire.top_p;
  c.seed = wire.seed;
  c.stop = std::move(wire.stop);
  return r;
}

// Writes the chunks of a streamed completion as the flow produces them.
class ChunkSink : public StreamSink {
 public:
  ChunkSink(Exchange& ex, const CompletionFormat& format, bool include_usage, std::shared_ptr<CancelFlag> cancel)
      : ex_(ex), format_(format), include_usage_(include_usage), cancel_(std::move(cancel)) {}

  bool on_user_message(const Message&) override {
    ex_.peek_rate_headers();
    http::HttpResponse head;
    head.content_type = "text/event-stream; charset=utf-8";
    head.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}};
    for (const auto& header : ex_.headers()) head.headers.push_back(header);
    open_ = ex_.writer().begin_stream(head);
    return write(format_.role_chunk());
  }
  bool on_delta(std::string_view text, std::int64_t, std::int64_t) override {
    if (text.empty()) return open_;
    return write(format_.delta_chunk(text));
  }
  bool on_heartbeat() override { return write(http::sse_comment("keep-alive")); }
  void on_done(const Message&) override {}

  // The end of the stream, from the flow's outcome.
  void finish(const SendOutcome& outcome) {
    if (!open_) return;
    if (!outcome.status.is_ok()) {
      write(http::sse_event(dump_json(error_body(outcome.status))));
    } else {
      write(format_.finish_chunk(outcome.assistant_message.finish_reason));
      if (include_usage_) write(format_.usage_chunk(outcome.assistant_message.usage));
    }
    write(http::sse_event("[DONE]"));
    if (open_) ex_.writer().end_stream();
  }

 private:
  bool write(const std::string& frame) {
    if (open_ && !ex_.writer().write(frame)) open_ = false;
    if (!open_ && cancel_) cancel_->store(true);  // the client is gone: stop generating for it
    return open_;
  }

  Exchange& ex_;
  const CompletionFormat& format_;
  bool include_usage_;
  std::shared_ptr<CancelFlag> cancel_;
  bool open_ = false;
};

// Collects the answer of a non-streamed completion.
class CollectSink : public StreamSink {
 public:
  bool on_user_message(const Message&) override { return true; }
  bool on_delta(std::string_view text, std::int64_t, std::int64_t) override {
    text_ += text;
    return true;
  }
  bool on_heartbeat() override { return true; }
  void on_done(const Message&) override {}
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class OpenAiApi {
 public:
  OpenAiApi(ApiContext& ctx, CancelRegistry& registry) : ctx_(ctx), registry_(registry) {}

  void chat_completions(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate(/*with_rate_headers=*/false)) return;
    auto body = parse_json_object(request.body, ctx_.options.max_body_bytes);
    if (!body.is_ok()) return fail(ex, body.status());
    auto chat = read_chat_request(*body, ctx_);
    if (!chat.is_ok()) return fail(ex, chat.status());
    chat->completion.caller = ex.caller(ReadOptions{});
    const auto created = static_cast<std::int64_t>(std::floor(ctx_.clock.now()));
    const CompletionFormat format(completion_id(), created, chat->model, chat->include_usage);
    if (chat->stream) return stream(ex, *chat, format);
    CollectSink sink;
    SendOutcome outcome = ctx_.completions.complete(chat->completion, sink);
    if (!outcome.status.is_ok()) return refuse(ex, outcome);
    ex.set_rate_headers(outcome_headers(outcome));
    const Message& answer = outcome.assistant_message;
    ex.json(200, format.completion(answer.content, answer.finish_reason, answer.usage));
  }

  // GET /v1/models: the one model this server serves (OpenAI's list shape), so that clients which
  // list models first (or check one exists) work unchanged.
  void models(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate(/*with_rate_headers=*/false)) return;
    nlohmann::json model = {{"id", ctx_.messages.config().model}, {"object", "model"}, {"created", 0}, {"owned_by", "chatscale"}};
    ex.json(200, {{"object", "list"}, {"data", nlohmann::json::array({model})}});
  }

 private:
  void stream(Exchange& ex, const ChatRequest& chat, const CompletionFormat& format) {
    auto cancel = std::make_shared<CancelFlag>(false);
    ChunkSink sink(ex, format, chat.include_usage, cancel);
    SendOutcome outcome;
    {
      CancelScope scope(registry_, cancel);
      outcome = ctx_.completions.complete(chat.completion, sink);
    }
    if (!outcome.streamed) return refuse(ex, outcome);
    sink.finish(outcome);
  }

  void refuse(Exchange& ex, const SendOutcome& outcome) {
    ex.set_rate_headers(outcome_headers(outcome));
    if (!outcome.flagged_categories.empty()) {
      nlohmann::json body = error_body(outcome.status, "content_policy_violation");
      body["error"]["categories"] = outcome.flagged_categories;
      return ex.json(http_status(outcome.status.code()), body);
    }
    fail(ex, outcome.status);
  }

  void fail(Exchange& ex, const Status& status) { ex.json(http_status(status.code()), error_body(status)); }

  ApiContext& ctx_;
  CancelRegistry& registry_;
};

}  // namespace

Routes openai_routes(ApiContext& ctx) {
  auto api = std::make_shared<OpenAiApi>(ctx, ctx.cancel_registry);
  return {
      {"POST", "/v1/chat/completions",
       [api](http::HttpRequest& request, http::ResponseWriter& writer) { api->chat_completions(request, writer); }},
      {"GET", "/v1/models",
       [api](http::HttpRequest& request, http::ResponseWriter& writer) { api->models(request, writer); }},
  };
}

}  // namespace chatscale::api
