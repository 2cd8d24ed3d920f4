#include "prod/api/openai_wire.h"

#include <limits>
#include <random>

#include "ports/inference.h"
#include "prod/api/api_json.h"
#include "prod/api/json_body.h"
#include "prod/http/responses.h"

namespace chatscale::api {
namespace {

using nlohmann::json;

Status read_parts(const json& content, const std::string& at, std::string& out) {
  for (std::size_t i = 0; i < content.size(); ++i) {
    const std::string part_at = at + ".content[" + std::to_string(i) + "]";
    if (!content[i].is_object()) return invalid_argument(part_at + ": must be an object");
    FieldReader p(content[i], part_at + ".");
    std::string type, text;
    p.text("type", type, TextRule{true, 1, 32});
    p.text("text", text, TextRule{true, 0, 1 << 20, true});
    CS_RETURN_IF_ERROR(p.finish());
    if (type != "text") return invalid_argument(part_at + ".type: only \"text\" is supported");
    out += text;
  }
  return Status::ok();
}

// One message of `messages`: role and text content (a string, or an array of text parts).
Status read_turn(const json& item, std::size_t index, ChatTurn& turn) {
  const std::string at = "messages[" + std::to_string(index) + "]";
  if (!item.is_object()) return invalid_argument(at + ": must be an object");
  FieldReader fields(item, at + ".");
  std::string role;
  fields.text("role", role, TextRule{true, 1, 32});
  fields.ignore("name");
  const json* content = fields.raw("content");
  CS_RETURN_IF_ERROR(fields.finish());
  if (role == "system" || role == "developer") turn.role = Role::kSystem;
  else if (role == "user") turn.role = Role::kUser;
  else if (role == "assistant") turn.role = Role::kAssistant;
  else return invalid_argument(at + ".role: \"" + role + "\" is not supported (system, developer, user, assistant)");
  if (content == nullptr || (content->is_null() && turn.role != Role::kAssistant))
    return invalid_argument(at + ".content: missing required field");
  if (content->is_string()) turn.content = content->get<std::string>();
  else if (content->is_array()) CS_RETURN_IF_ERROR(read_parts(*content, at, turn.content));
  else if (!content->is_null()) return invalid_argument(at + ".content: must be a string or an array of text parts");
  if (contains_nul(turn.content)) return invalid_argument(at + ".content: must not contain U+0000");
  return Status::ok();
}

Status read_messages(const json* messages, std::size_t max_messages, std::vector<ChatTurn>& out) {
  if (messages == nullptr) return invalid_argument("messages: missing required field");
  if (!messages->is_array() || messages->empty()) return invalid_argument("messages: must be a non-empty array");
  if (messages->size() > max_messages)
    return invalid_argument("messages: at most " + std::to_string(max_messages) + " messages");
  out.assign(messages->size(), ChatTurn{});
  for (std::size_t i = 0; i < messages->size(); ++i) CS_RETURN_IF_ERROR(read_turn((*messages)[i], i, out[i]));
  return Status::ok();
}

// stop: null, a string, or an array of at most kMaxStopStrings strings of 1..kMaxStopBytes bytes.
void read_stop(FieldReader& fields, std::vector<std::string>& out) {
  const json* value = fields.raw("stop");
  if (value == nullptr || value->is_null()) return;
  auto one = [&](const json& item, const std::string& key) {
    if (!item.is_string()) return fields.fail(key, "must be a string");
    const auto& s = item.get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxStopBytes)
      return fields.fail(key, "must be between 1 and " + std::to_string(kMaxStopBytes) + " bytes");
    out.push_back(s);
  };
  if (value->is_string()) return one(*value, "stop");
  if (!value->is_array()) return fields.fail("stop", "must be a string or an array of strings");
  if (value->size() > kMaxStopStrings)
    return fields.fail("stop", "at most " + std::to_string(kMaxStopStrings) + " stop sequences");
  for (std::size_t i = 0; i < value->size(); ++i) one((*value)[i], "stop[" + std::to_string(i) + "]");
}

void read_sampling(FieldReader& fields, ChatWireRequest& r, const ChatWireLimits& limits) {
  fields.integer("max_tokens", r.max_tokens, 1, limits.max_tokens);
  fields.integer("max_completion_tokens", r.max_tokens, 1, limits.max_tokens);
  fields.number("temperature", r.temperature, 0, 2);
  if (fields.number("top_p", r.top_p, 0, 1) && !(r.top_p > 0)) fields.fail("top_p", "must be greater than 0 and at most 1");
  if (const json* seed = fields.raw("seed"); seed != nullptr && !seed->is_null()) {
    if (seed->is_number_unsigned()) r.seed = seed->get<std::uint64_t>();
    else if (seed->is_number_integer()) r.seed = static_cast<std::uint64_t>(seed->get<std::int64_t>());
    else fields.fail("seed", "must be an integer");
  }
  read_stop(fields, r.stop);
  if (const json* value = fields.raw("n"); value != nullptr && !value->is_null() &&
                                           !(value->is_number_integer() && value->get<std::int64_t>() == 1))
    fields.fail("n", "only 1 is supported");
}

// Options that change nothing here: checked, then ignored; those that would change the answer in
// ways this server cannot honour are refused.
void read_ignored(FieldReader& fields) {
  double ignored = 0;
  fields.number("presence_penalty", ignored, -2, 2);
  fields.number("frequency_penalty", ignored, -2, 2);
  std::string user;
  fields.text("user", user, TextRule{false, 0, 256});
  bool logprobs = false;
  fields.boolean("logprobs", logprobs);
  if (logprobs) fields.fail("logprobs", "not supported by this server");
  for (const char* unsupported : {"tools", "functions", "logit_bias", "top_logprobs"}) {
    const json* value = fields.raw(unsupported);
    if (value != nullptr && !value->is_null() && !(value->is_array() && value->empty()) &&
        !(value->is_object() && value->empty()))
      fields.fail(unsupported, "not supported by this server");
  }
  for (const char* key : {"tool_choice", "parallel_tool_calls", "metadata", "store", "service_tier"}) fields.ignore(key);
  if (const json* format = fields.raw("response_format"); format != nullptr && !format->is_null()) {
    // No json::value() here: it throws when "type" is not a string.
    auto type = format->is_object() ? format->find("type") : format->end();
    if (!format->is_object() || type == format->end() || *type != "text")
      fields.fail("response_format", "only {\"type\": \"text\"} is supported");
  }
}

// stream_options: an object {include_usage}, only with stream true. Its own problems name their path.
Status read_stream_options(FieldReader& fields, ChatWireRequest& r) {
  const json* options = fields.raw("stream_options");
  if (options == nullptr || options->is_null()) return Status::ok();
  if (!options->is_object()) {
    fields.fail("stream_options", "must be an object");
    return Status::ok();
  }
  FieldReader inner(*options, "stream_options.");
  inner.boolean("include_usage", r.include_usage);
  CS_RETURN_IF_ERROR(inner.finish());
  if (!r.stream) fields.fail("stream_options", "only allowed when stream is true");
  return Status::ok();
}

bool is_field_path(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<ChatWireRequest> parse_chat_request(const json& body, const ChatWireLimits& limits) {
  ChatWireRequest r;
  FieldReader fields(body);
  fields.text("model", r.model, TextRule{limits.require_model, 1, 256});
  fields.boolean("stream", r.stream);
  const json* messages = fields.raw("messages");
  read_sampling(fields, r, limits);
  read_ignored(fields);
  CS_RETURN_IF_ERROR(read_stream_options(fields, r));
  CS_RETURN_IF_ERROR(fields.finish());
  CS_RETURN_IF_ERROR(read_messages(messages, limits.max_messages, r.messages));
  return r;
}

std::string completion_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id = "chatcmpl-";
  for (int i = 0; i < 24; ++i) id.push_back(kHex[rng() % 16]);
  return id;
}

const char* finish_reason_text(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kContentFilter: return "content_filter";
    default: return "stop";
  }
}

std::string error_param(const Status& status) {
  const std::string& m = status.message();
  if (m.rfind("model_not_found", 0) == 0) return "model";
  if (m.rfind("context_length_exceeded", 0) == 0) return "messages";
  if (status.code() != StatusCode::kInvalidArgument) return {};
  std::size_t colon = m.find(": ");
  if (colon == std::string::npos || !is_field_path(std::string_view(m).substr(0, colon))) return {};
  return m.substr(0, colon);
}

json error_body(const Status& status, std::string_view code) {
  json error = error_object(status);
  std::string param = error_param(status);
  error["param"] = param.empty() ? json(nullptr) : json(param);
  const std::string& m = status.message();
  if (code.empty()) {
    for (std::string_view known : {"model_not_found", "context_length_exceeded"})
      if (m.rfind(known, 0) == 0) code = known;
  }
  if (!code.empty()) error["code"] = std::string(code);
  return {{"error", error}};
}

json CompletionFormat::envelope(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
}

std::string CompletionFormat::chunk(json delta, json finish_reason) const {
  json c = envelope("chat.completion.chunk");
  c["choices"] = json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish_reason)}}});
  if (include_usage_) c["usage"] = nullptr;
  return http::sse_event(dump_json(c));
}

std::string CompletionFormat::role_chunk() const { return chunk({{"role", "assistant"}, {"content", ""}}, nullptr); }

std::string CompletionFormat::delta_chunk(std::string_view text) const {
  return chunk({{"content", std::string(text)}}, nullptr);
}

std::string CompletionFormat::finish_chunk(FinishReason reason) const {
  return chunk(json::object(), finish_reason_text(reason));
}

std::string CompletionFormat::usage_chunk(const Usage& usage) const {
  json last = envelope("chat.completion.chunk");
  last["choices"] = json::array();
  last["usage"] = usage_json(usage);
  return http::sse_event(dump_json(last));
}

json CompletionFormat::completion(const std::string& text, FinishReason reason, const Usage& usage) const {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", finish_reason_text(reason)}};
  json out = envelope("chat.completion");
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(usage);
  return out;
}

}  // namespace chatscale::api
