// The OpenAI chat-completions wire format, shared by the chat service's POST /v1/chat/completions
// (prod/api/openai_api.cc) and `chatscale engine`'s own server (prod/engine/server/engine_server.cc):
// one parser and validator of the request body, the completion id, and the builders of the response
// JSON (the whole chat.completion object, the chat.completion.chunk SSE events, error bodies).
//
// Request fields read: model, messages (system/developer, user, assistant; content a string or an
// array of {"type": "text", "text"} parts; name ignored), stream, stream_options.include_usage (only
// with stream true), max_tokens / max_completion_tokens (1..limits.max_tokens), temperature (0..2),
// top_p ((0, 1]), seed (any JSON integer; taken modulo 2^64), stop (a string or an array of at most 4
// strings, each 1..64 bytes; null or [] = none), n (only 1). Checked and ignored: user,
// presence_penalty and frequency_penalty (-2..2), tool_choice, parallel_tool_calls, metadata, store,
// service_tier, response_format {"type": "text"}, logprobs false. Refused: tools, functions,
// logit_bias, top_logprobs, logprobs true, and any other key (as OpenAI's API refuses an unrecognised
// argument with 400).
//
// Errors are InvalidArgument "<param>: <problem>", where <param> is the field path OpenAI reports as
// `param` ("messages[2].content[0].text", "stop[1]", "n"); error_body() puts it there.
//
// Thread-safety: pure functions (completion_id() uses a thread-local generator).
// Failure behaviour: errors are values; nothing throws (nlohmann's exceptions are caught by the reader).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ports/types.h"

namespace chatscale::api {

struct ChatWireLimits {
  std::int64_t max_tokens = std::int64_t{1} << 30;  // upper bound of max_tokens (the context window)
  std::size_t max_messages = 100'000;
  bool require_model = true;                        // the engine server answers any (or no) model
};

struct ChatWireRequest {
  std::string model;
  std::vector<ChatTurn> messages;
  bool stream = false;
  bool include_usage = false;
  std::int64_t max_tokens = 0;  // 0: not given
  double temperature = 1.0;
  double top_p = 1.0;
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;
};

// Parses a body already parsed as one JSON object (parse_json_object in json_body.h).
Result<ChatWireRequest> parse_chat_request(const nlohmann::json& body, const ChatWireLimits& limits = {});

// "chatcmpl-" and 24 random hex digits.
std::string completion_id();

// OpenAI's finish reason: "length", "content_filter", else "stop".
const char* finish_reason_text(FinishReason reason);

// The field path an error names: the text before ": " when it is a field path, "model" for
// model_not_found, "messages" for context_length_exceeded; empty when none.
std::string error_param(const Status& status);

// {"error": {"message", "type", "param", "code"}}; `code` overrides the status's own code text when
// given (model_not_found, context_length_exceeded and content_policy_violation are recognised from
// the message's leading word when not given).
nlohmann::json error_body(const Status& status, std::string_view code = {});

// The response objects of one completion.
class CompletionFormat {
 public:
  CompletionFormat(std::string id, std::int64_t created, std::string model, bool include_usage)
      : id_(std::move(id)), created_(created), model_(std::move(model)), include_usage_(include_usage) {}

  const std::string& id() const { return id_; }
  bool include_usage() const { return include_usage_; }
  // SSE events ("data: ...\n\n") of a streamed answer, in order.
  std::string role_chunk() const;                     // {"role": "assistant", "content": ""}
  std::string delta_chunk(std::string_view text) const;
  std::string finish_chunk(FinishReason reason) const;
  std::string usage_chunk(const Usage& usage) const;  // empty choices; only with include_usage
  // The chat.completion object of an answer that was not streamed.
  nlohmann::json completion(const std::string& text, FinishReason reason, const Usage& usage) const;

 private:
  nlohmann::json envelope(const char* object) const;
  std::string chunk(nlohmann::json delta, nlohmann::json finish_reason) const;

  std::string id_;
  std::int64_t created_;
  std::string model_;
  bool include_usage_;
};

}  // namespace chatscale::api
