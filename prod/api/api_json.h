// The JSON shapes of the API's domain values (users, conversations, messages, usage, API keys) and of
// the conversation API's SSE events. One place, so the handlers, the generation hub and the OpenAPI
// description agree.
//
// SSE events of a message stream (each with an id "<user_message_id>:<n>", n = 1, 2, ...):
//   event: message  data: {"message": <the stored user message>}
//   event: delta    data: {"content": "<text>"}      ("replace": true when it carries the whole answer
//                                                     from the store and replaces what the client has)
//   event: done     data: {"message_id", "status", "finish_reason", "usage", "read_token",
//                          "moderation_categories"?, "error"?}
// Heartbeats are SSE comments (": heartbeat").
//
// Thread-safety: pure functions. Failure behaviour: none (serialisation replaces invalid UTF-8).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ports/types.h"

namespace chatscale::api {

nlohmann::json usage_json(const Usage& usage);
nlohmann::json user_json(const User& user);
nlohmann::json conversation_json(const Conversation& conversation);
nlohmann::json message_json(const Message& message);
nlohmann::json api_key_json(const ApiKey& key);
// {"message": ..., "type": ..., "code": ...}: the inside of an error body.
nlohmann::json error_object(const Status& status);

// Compact serialisation that never throws (invalid UTF-8 is replaced).
std::string dump_json(const nlohmann::json& value);

// "<message_id>:<n>", and its inverse (InvalidArgument unless `text` is exactly that form with n >= 0).
std::string event_id(std::string_view message_id, std::uint64_t n);
Result<std::uint64_t> parse_event_id(std::string_view text, std::string_view message_id);

// Framed SSE events of a message stream.
std::string message_event(const Message& user_message, std::uint64_t n);
std::string delta_event(std::string_view message_id, std::string_view text, std::uint64_t n, bool replace = false);
// The end of a stream: the stored answer (`assistant`, possibly without id when none was stored), the
// flow's status (an error object when not OK), and the read-your-writes token for the next read.
std::string done_event(std::string_view message_id, const Message& assistant, const Status& status,
                       const std::string& read_token, std::uint64_t n);
std::string heartbeat_comment();

}  // namespace chatscale::api
