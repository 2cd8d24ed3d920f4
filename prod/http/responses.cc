#include "prod/http/responses.h"

#include <cctype>
#include <string>

namespace chatscale::http {
namespace {

std::string error_code_string(StatusCode code) {
  // Permission denied must read exactly like not found.
  if (code == StatusCode::kPermissionDenied) code = StatusCode::kNotFound;
  std::string out(status_code_name(code));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  // replace: a message with invalid UTF-8 (user input) must not throw out of a handler.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

nlohmann::json error_body(std::string_view message, std::string_view type, std::string_view code) {
  nlohmann::json error = {{"message", std::string(message)}, {"type", std::string(type)}};
  error["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(code));
  return {{"error", std::move(error)}};
}

HttpResponse error_response(const Status& status) {
  if (status.is_ok()) return error_response(internal_error("an error response built from an OK status"));
  return error_response(http_status(status.code()), status.message(), openai_error_type(status.code()),
                        error_code_string(status.code()));
}

HttpResponse error_response(int status, std::string_view message, std::string_view type,
                            std::string_view code) {
  return json_response(status, error_body(message, type, code));
}

}  // namespace chatscale::http
