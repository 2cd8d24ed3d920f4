#include "prod/http/http_wire.h"

#include <cctype>
#include <cstdio>
#include <utility>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "prod/http/responses.h"
#include "prod/http/url.h"

namespace chatscale::http::wire {
namespace beast_http = boost::beast::http;
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == ':' || c == '(' || c == ')' || c == ',' || c == ';' || c == '"' ||
        c == '/' || c == '[' || c == ']' || c == '?' || c == '=' || c == '{' || c == '}' || c == '\\' ||
        c == '<' || c == '>' || c == '@')
      return false;
  }
  return true;
}

bool valid_value(std::string_view value) {
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

bool server_owned(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection") || iequals(name, "server");
}

std::string reason(int status) {
  auto beast_reason = beast_http::obsolete_reason(beast_http::int_to_status(static_cast<unsigned>(status)));
  std::string_view r(beast_reason.data(), beast_reason.size());
  if (r.empty() || r.front() == '<') return "Unknown";
  return std::string(r);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

Result<HttpRequest> to_request(BeastRequest&& message, std::string remote, bool tls) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  auto parts = split_target(request.target);
  if (!parts) return invalid_argument("the request target is not a path");
  auto path = percent_decode(parts->path);
  if (!path) return invalid_argument("the request path is not valid percent-encoding");
  request.path = std::move(*path);
  request.query = parse_query(parts->query);
  request.headers.reserve(16);
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote = std::move(remote);
  request.tls = tls;
  return request;
}

bool status_forbids_body(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

bool is_event_stream(std::string_view content_type) {
  constexpr std::string_view kType = "text/event-stream";
  return content_type.size() >= kType.size() && iequals(content_type.substr(0, kType.size()), kType);
}

std::string format_head(const HttpResponse& response, Framing framing, std::size_t content_length,
                        bool keep_alive, unsigned version) {
  int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  std::string out;
  out.reserve(256);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason(status)).append("\r\n");
  append_header(out, "server", "chatscale");
  bool has_content_type = !response.content_type.empty() && valid_value(response.content_type);
  if (has_content_type) append_header(out, "content-type", response.content_type);
  bool has_cache_control = false;
  bool has_accel = false;
  for (const auto& [name, value] : response.headers) {
    if (!valid_name(name) || !valid_value(value) || server_owned(name)) continue;
    if (has_content_type && iequals(name, "content-type")) continue;
    has_cache_control = has_cache_control || iequals(name, "cache-control");
    has_accel = has_accel || iequals(name, "x-accel-buffering");
    append_header(out, name, value);
  }
  if (framing != Framing::kContentLength && is_event_stream(response.content_type)) {
    if (!has_cache_control) append_header(out, "cache-control", "no-cache");
    if (!has_accel) append_header(out, "x-accel-buffering", "no");
  }
  if (framing == Framing::kContentLength && !status_forbids_body(status))
    append_header(out, "content-length", std::to_string(content_length));
  if (framing == Framing::kChunked) append_header(out, "transfer-encoding", "chunked");
  if (!keep_alive) {
    append_header(out, "connection", "close");
  } else if (version < 11) {
    append_header(out, "connection", "keep-alive");
  }
  out.append("\r\n");
  return out;
}

std::string frame_chunk(std::string_view bytes) {
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string out;
  out.reserve(static_cast<std::size_t>(n) + bytes.size() + 2);
  out.append(size, static_cast<std::size_t>(n)).append(bytes).append("\r\n");
  return out;
}

std::optional<HttpResponse> response_for_read_error(const boost::system::error_code& ec, bool started,
                                                    bool timed_out, std::size_t max_header_bytes,
                                                    std::size_t max_body_bytes) {
  if (timed_out) {
    if (!started) return std::nullopt;  // an idle keep-alive connection: close quietly
    return error_response(408, "the request was not received in time", openai_error_type(StatusCode::kInvalidArgument),
                          "request_timeout");
  }
  if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message) return std::nullopt;
  if (ec == beast_http::error::header_limit || ec == boost::beast::http::error::buffer_overflow) {
    return error_response(431, "the request headers are larger than " + std::to_string(max_header_bytes) + " bytes",
                          openai_error_type(StatusCode::kInvalidArgument), "request_header_fields_too_large");
  }
  if (ec == beast_http::error::body_limit)
    return error_response(payload_too_large("the request body is larger than " + std::to_string(max_body_bytes) +
                                            " bytes"));
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category())
    return error_response(invalid_argument("malformed HTTP request"));
  return std::nullopt;  // a socket or TLS error: the peer is gone or broken
}

std::string busy_response_bytes() {
  HttpResponse response = error_response(unavailable("the server is at its connection limit; retry later"));
  response.headers.emplace_back("retry-after", "1");
  return format_head(response, Framing::kContentLength, response.body.size(), false, 11) + response.body;
}

std::string format_endpoint(const std::string& address, unsigned short port, bool v6) {
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

void log_line(std::string_view line) {
  std::fprintf(stderr, "http: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace chatscale::http::wire
