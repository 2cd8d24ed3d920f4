// Building HTTP responses for handlers and for the server itself: JSON bodies and errors in OpenAI's
// shape, {"error": {"message": ..., "type": ..., "code": ...}}. The HTTP status of an error Status comes
// from http_status() (shared/core/status.h), the one code-to-HTTP mapping; its "type" from
// openai_error_type(); its "code" is the status code's name in lower case ("not_found",
// "rate_limited"), with permission denied shown as "not_found" (never reveal that a resource exists).
//
// Ownership: plain values. Thread-safety: pure functions. Failure behaviour: none; JSON serialisation
// replaces invalid UTF-8 instead of throwing, so any string may go in a body.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "prod/http/http_types.h"

namespace chatscale::http {

// A response with `body` serialised compactly, content type application/json.
HttpResponse json_response(int status, const nlohmann::json& body);

// {"error": {"message": message, "type": type, "code": code}}; an empty code is written as null.
nlohmann::json error_body(std::string_view message, std::string_view type, std::string_view code);

// The response for an error Status (an OK status is answered as an internal error).
HttpResponse error_response(const Status& status);

// An error response with an explicit HTTP status, for errors no StatusCode covers (405, 408, 431).
HttpResponse error_response(int status, std::string_view message, std::string_view type,
                            std::string_view code);

}  // namespace chatscale::http
