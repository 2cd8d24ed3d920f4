#include "prod/api/api_json.h"

#include <cctype>
#include <charconv>

#include "prod/http/http_types.h"

namespace chatscale::api {

nlohmann::json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.total()}};
}

nlohmann::json user_json(const User& user) {
  return {{"id", user.id}, {"email", user.email}, {"tier", user.tier}, {"created_at", user.created_at}};
}

nlohmann::json conversation_json(const Conversation& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"created_at", c.created_at},
          {"updated_at", c.updated_at},
          {"message_count", c.message_count}};
}

nlohmann::json message_json(const Message& m) {
  nlohmann::json out = {{"id", m.id},
                        {"conversation_id", m.conversation_id},
                        {"seq", m.seq},
                        {"role", std::string(role_name(m.role))},
                        {"content", m.content},
                        {"status", std::string(message_status_name(m.status))},
                        {"created_at", m.created_at}};
  out["finish_reason"] = m.finish_reason == FinishReason::kNone ? nlohmann::json(nullptr)
                                                                : nlohmann::json(std::string(finish_reason_name(m.finish_reason)));
  if (m.role == Role::kAssistant) {
    out["model"] = m.model;
    out["usage"] = usage_json(m.usage);
  }
  if (!m.moderation_categories.empty()) out["moderation_categories"] = m.moderation_categories;
  return out;
}

nlohmann::json api_key_json(const ApiKey& key) {
  nlohmann::json out = {{"id", key.id}, {"name", key.name}, {"prefix", key.prefix}, {"created_at", key.created_at}};
  out["revoked_at"] = key.revoked_at > 0 ? nlohmann::json(key.revoked_at) : nlohmann::json(nullptr);
  return out;
}

nlohmann::json error_object(const Status& status) {
  StatusCode code = status.code() == StatusCode::kPermissionDenied ? StatusCode::kNotFound : status.code();
  std::string name(status_code_name(code));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return {{"message", status.message()}, {"type", std::string(openai_error_type(code))}, {"code", name}};
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string event_id(std::string_view message_id, std::uint64_t n) {
  return std::string(message_id) + ":" + std::to_string(n);
}

Result<std::uint64_t> parse_event_id(std::string_view text, std::string_view message_id) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || text.substr(0, colon) != message_id)
    return invalid_argument("Last-Event-ID: not an event of message " + std::string(message_id));
  std::string_view digits = text.substr(colon + 1);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return invalid_argument("Last-Event-ID: \"" + std::string(text) + "\" is not <message_id>:<n>");
  return n;
}

std::string message_event(const Message& user_message, std::uint64_t n) {
  return http::sse_event(dump_json({{"message", message_json(user_message)}}), "message",
                         event_id(user_message.id, n));
}

std::string delta_event(std::string_view message_id, std::string_view text, std::uint64_t n, bool replace) {
  nlohmann::json data = {{"content", std::string(text)}};
  if (replace) data["replace"] = true;
  return http::sse_event(dump_json(data), "delta", event_id(message_id, n));
}

std::string done_event(std::string_view message_id, const Message& assistant, const Status& status,
                       const std::string& read_token, std::uint64_t n) {
  nlohmann::json data = {{"message_id", assistant.id.empty() ? nlohmann::json(nullptr) : nlohmann::json(assistant.id)},
                         {"status", std::string(message_status_name(assistant.status))},
                         {"usage", usage_json(assistant.usage)},
                         {"read_token", read_token}};
  FinishReason finish = assistant.finish_reason;
  if (finish == FinishReason::kNone && !status.is_ok()) finish = FinishReason::kError;
  data["finish_reason"] = finish == FinishReason::kNone ? nlohmann::json(nullptr)
                                                       : nlohmann::json(std::string(finish_reason_name(finish)));
  if (!assistant.moderation_categories.empty()) data["moderation_categories"] = assistant.moderation_categories;
  if (!status.is_ok()) data["error"] = error_object(status);
  return http::sse_event(dump_json(data), "done", event_id(message_id, n));
}

std::string heartbeat_comment() { return http::sse_comment("heartbeat"); }

}  // namespace chatscale::api
