// The OpenAI-compatible chat completions endpoint, POST /v1/chat/completions, over the CompletionFlow
// (the shared message flow on a throwaway conversation): same authentication (an API key or a JWT as
// Bearer), rate limits, moderation and backends as the conversation API. Streamed (stream: true) as
// OpenAI streams: `data: {chat.completion.chunk}` events, the first with the assistant role, one per
// delta, one with the finish reason, an optional usage chunk with empty choices
// (stream_options.include_usage), then `data: [DONE]`. Unlike a conversation's generation, a
// completion belongs to its connection: a client that goes away cancels it (as OpenAI-compatible
// servers do), and the tokens produced so far are billed.
#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "prod/api/api_json.h"
#include "prod/api/api_routes.h"
#include "prod/api/cancellable_backend.h"
#include "prod/api/completion_flow.h"
#include "prod/api/exchange.h"
#include "prod/api/json_body.h"
#include "prod/http/responses.h"

namespace chatscale::api {
namespace {

struct ChatRequest {
  std::string model;
  CompletionRequest completion;
  bool stream = false;
  bool include_usage = false;
};

std::string completion_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id = "chatcmpl-";
  for (int i = 0; i < 24; ++i) id.push_back(kHex[rng() % 16]);
  return id;
}

// The finish reasons OpenAI clients know; a cancelled stream only ends for a client that is gone.
nlohmann::json openai_finish_reason(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kContentFilter: return "content_filter";
    default: return "stop";
  }
}

// One message of `messages`: role and text content (a string, or an array of text parts).
Status read_turn(const nlohmann::json& item, std::size_t index, ChatTurn& turn) {
  const std::string at = "messages[" + std::to_string(index) + "]";
  if (!item.is_object()) return invalid_argument(at + ": must be an object");
  FieldReader fields(item, at + ".");
  std::string role;
  fields.text("role", role, TextRule{true, 1, 32});
  fields.ignore("name");
  const nlohmann::json* content = fields.raw("content");
  CS_RETURN_IF_ERROR(fields.finish());
  if (role == "system" || role == "developer") turn.role = Role::kSystem;
  else if (role == "user") turn.role = Role::kUser;
  else if (role == "assistant") turn.role = Role::kAssistant;
  else return invalid_argument(at + ".role: \"" + role + "\" is not supported (system, developer, user, assistant)");
  if (content == nullptr || (content->is_null() && turn.role != Role::kAssistant))
    return invalid_argument(at + ".content: missing required field");
  if (content->is_string()) {
    turn.content = content->get<std::string>();
  } else if (content->is_array()) {
    for (std::size_t i = 0; i < content->size(); ++i) {
      const auto& part = (*content)[i];
      FieldReader p(part, at + ".content[" + std::to_string(i) + "].");
      std::string type, text;
      p.text("type", type, TextRule{true, 1, 32});
      p.text("text", text, TextRule{true, 0, 1 << 20, true});
      CS_RETURN_IF_ERROR(p.finish());
      if (type != "text") return invalid_argument(at + ".content[" + std::to_string(i) + "].type: only \"text\" is supported");
      turn.content += text;
    }
  } else if (!content->is_null()) {
    return invalid_argument(at + ".content: must be a string or an array of text parts");
  }
  if (contains_nul(turn.content)) return invalid_argument(at + ".content: must not contain U+0000");
  return Status::ok();
}

Status read_messages(const nlohmann::json* messages, std::size_t max_messages, CompletionRequest& out) {
  if (messages == nullptr) return invalid_argument("messages: missing required field");
  if (!messages->is_array() || messages->empty()) return invalid_argument("messages: must be a non-empty array");
  if (messages->size() > max_messages)
    return invalid_argument("messages: at most " + std::to_string(max_messages) + " messages");
  std::vector<ChatTurn> turns(messages->size());
  for (std::size_t i = 0; i < messages->size(); ++i) CS_RETURN_IF_ERROR(read_turn((*messages)[i], i, turns[i]));
  if (turns.back().role != Role::kUser) return invalid_argument("messages: the last message must have role \"user\"");
  out.content = std::move(turns.back().content);
  turns.pop_back();
  out.history = std::move(turns);
  return Status::ok();
}

// Sampling and tool options: the ones this server honours are read, harmless ones are checked and
// ignored, and those that would change the answer in ways it cannot honour are refused.
void read_options(FieldReader& fields, ChatRequest& r, std::int64_t window) {
  fields.integer("max_tokens", r.completion.max_tokens, 1, window);
  fields.integer("max_completion_tokens", r.completion.max_tokens, 1, window);
  fields.number("temperature", r.completion.temperature, 0, 2);
  double ignored = 0;
  fields.number("top_p", ignored, 0, 1);
  fields.number("presence_penalty", ignored, -2, 2);
  fields.number("frequency_penalty", ignored, -2, 2);
  std::int64_t n = 1, seed = 0;
  fields.integer("n", n, 1, 1);
  fields.integer("seed", seed, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  std::string user;
  fields.text("user", user, TextRule{false, 0, 256});
  bool logprobs = false;
  fields.boolean("logprobs", logprobs);
  if (logprobs) fields.fail("logprobs", "not supported by this server");
  for (const char* unsupported : {"stop", "tools", "functions", "logit_bias", "top_logprobs"}) {
    const nlohmann::json* value = fields.raw(unsupported);
    if (value != nullptr && !value->is_null() && !(value->is_array() && value->empty()) &&
        !(value->is_object() && value->empty()))
      fields.fail(unsupported, "not supported by this server");
  }
  for (const char* ignored_key : {"tool_choice", "parallel_tool_calls", "metadata", "store", "service_tier"})
    fields.ignore(ignored_key);
  if (const nlohmann::json* format = fields.raw("response_format");
      format != nullptr && !format->is_null() && !(format->is_object() && format->value("type", "") == "text"))
    fields.fail("response_format", "only {\"type\": \"text\"} is supported");
}

Result<ChatRequest> read_chat_request(const nlohmann::json& body, const ApiContext& ctx) {
  ChatRequest r;
  const auto& config = ctx.completions.config();
  FieldReader fields(body);
  fields.text("model", r.model, TextRule{true, 1, 256});
  fields.boolean("stream", r.stream);
  const nlohmann::json* messages = fields.raw("messages");
  read_options(fields, r, config.context_window_tokens);
  if (const nlohmann::json* options = fields.raw("stream_options"); options != nullptr && !options->is_null()) {
    if (!options->is_object()) {
      fields.fail("stream_options", "must be an object");
    } else {
      FieldReader inner(*options, "stream_options.");
      inner.boolean("include_usage", r.include_usage);
      if (Status s = inner.finish(); !s.is_ok()) return s;
      if (!r.stream) fields.fail("stream_options", "only allowed when stream is true");
    }
  }
  CS_RETURN_IF_ERROR(fields.finish());
  CS_RETURN_IF_ERROR(read_messages(messages, ctx.options.max_completion_messages, r.completion));
  if (r.model != config.model) return not_found("model_not_found: the model \"" + r.model + "\" does not exist; this server serves \"" + config.model + "\"");
  return r;
}

// OpenAI's error body: {"error": {"message", "type", "param", "code"}}.
nlohmann::json openai_error(const Status& status, std::string_view code = {}) {
  nlohmann::json error = error_object(status);
  error["param"] = nullptr;
  if (!code.empty()) error["code"] = std::string(code);
  return {{"error", error}};
}

// Writes the chunks of a streamed completion as the flow produces them.
class ChunkSink : public StreamSink {
 public:
  ChunkSink(Exchange& ex, const ChatRequest& request, std::string id, std::int64_t created,
            std::shared_ptr<CancelFlag> cancel)
      : ex_(ex), request_(request), id_(std::move(id)), created_(created), cancel_(std::move(cancel)) {}

  bool on_user_message(const Message&) override {
    ex_.peek_rate_headers();
    http::HttpResponse head;
    head.content_type = "text/event-stream; charset=utf-8";
    head.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}};
    for (const auto& header : ex_.headers()) head.headers.push_back(header);
    open_ = ex_.writer().begin_stream(head);
    return write(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  }
  bool on_delta(std::string_view text, std::int64_t, std::int64_t) override {
    if (text.empty()) return open_;
    return write(chunk({{"content", std::string(text)}}, nullptr));
  }
  bool on_heartbeat() override { return write(http::sse_comment("keep-alive")); }
  void on_done(const Message&) override {}

  // The end of the stream, from the flow's outcome.
  void finish(const SendOutcome& outcome) {
    if (!open_) return;
    if (!outcome.status.is_ok()) {
      write(http::sse_event(dump_json(openai_error(outcome.status))));
    } else {
      write(chunk(nlohmann::json::object(), openai_finish_reason(outcome.assistant_message.finish_reason)));
      if (request_.include_usage) {
        nlohmann::json last = envelope();
        last["choices"] = nlohmann::json::array();
        last["usage"] = usage_json(outcome.assistant_message.usage);
        write(http::sse_event(dump_json(last)));
      }
    }
    write(http::sse_event("[DONE]"));
    if (open_) ex_.writer().end_stream();
  }

 private:
  nlohmann::json envelope() const {
    return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", request_.model}};
  }
  std::string chunk(nlohmann::json delta, nlohmann::json finish_reason) const {
    nlohmann::json c = envelope();
    c["choices"] = nlohmann::json::array(
        {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish_reason)}}});
    if (request_.include_usage) c["usage"] = nullptr;
    return http::sse_event(dump_json(c));
  }
  bool write(const std::string& frame) {
    if (open_ && !ex_.writer().write(frame)) open_ = false;
    if (!open_ && cancel_) cancel_->store(true);  // the client is gone: stop generating for it
    return open_;
  }

  Exchange& ex_;
  const ChatRequest& request_;
  std::string id_;
  std::int64_t created_;
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
    const std::string id = completion_id();
    const auto created = static_cast<std::int64_t>(std::floor(ctx_.clock.now()));
    if (chat->stream) return stream(ex, *chat, id, created);
    CollectSink sink;
    SendOutcome outcome = ctx_.completions.complete(chat->completion, sink);
    if (!outcome.status.is_ok()) return refuse(ex, outcome);
    ex.set_rate_headers(outcome_headers(outcome));
    nlohmann::json choice = {{"index", 0},
                             {"message", {{"role", "assistant"}, {"content", outcome.assistant_message.content}}},
                             {"finish_reason", openai_finish_reason(outcome.assistant_message.finish_reason)}};
    ex.json(200, {{"id", id},
                  {"object", "chat.completion"},
                  {"created", created},
                  {"model", chat->model},
                  {"choices", nlohmann::json::array({choice})},
                  {"usage", usage_json(outcome.assistant_message.usage)}});
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
  void stream(Exchange& ex, const ChatRequest& chat, const std::string& id, std::int64_t created) {
    auto cancel = std::make_shared<CancelFlag>(false);
    ChunkSink sink(ex, chat, id, created, cancel);
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
      nlohmann::json body = openai_error(outcome.status, "content_policy_violation");
      body["error"]["categories"] = outcome.flagged_categories;
      return ex.json(http_status(outcome.status.code()), body);
    }
    fail(ex, outcome.status);
  }

  void fail(Exchange& ex, const Status& status) {
    std::string_view code;
    if (status.message().rfind("model_not_found", 0) == 0) code = "model_not_found";
    if (status.message().rfind("context_length_exceeded", 0) == 0) code = "context_length_exceeded";
    ex.json(http_status(status.code()), openai_error(status, code));
  }

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
