// The seam between the HTTP server (prod/http: sockets, parsing limits, TLS, timeouts, chunked
// writes) and the handlers (prod/api: what each route means). A handler is a function from a parsed
// request to either one response or a stream; it never sees a socket (STYLE.md 6).
//
// A handler runs inside the connection's task (prod/runtime/task.h) and may suspend it (database
// calls through BlockingPool, Signal waits). It answers through the ResponseWriter exactly once:
// either respond(), or begin_stream() followed by write() calls and end_stream(). Writes return false
// once the client is gone (or too slow: the server bounds what it buffers per connection), after which
// the handler should stop writing; it may keep doing its own work (the generation goes on server side).
//
// Ownership: the server owns HttpRequest and ResponseWriter for the handler call's duration.
// Thread-safety: one handler call uses its writer from its own task only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatscale::http {

// Header names are stored lower-case; lookups are case-insensitive through header().
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded path without the query
  std::map<std::string, std::string> query;    // decoded query parameters (last one wins)
  std::map<std::string, std::string> params;   // path parameters bound by the router ({id} ...)
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::string body;
  std::string remote;  // peer address, for logs and per-address limits
  bool tls = false;

  std::optional<std::string_view> header(std::string_view lower_case_name) const;
  std::string param(const std::string& name) const;  // "" when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (lower-case names)
  std::string body;
};

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // One complete response. Returns false when the client is gone.
  virtual bool respond(const HttpResponse& response) = 0;
  // Starts a streamed response (status, content type and headers of `head`; its body is ignored)
  // with chunked transfer encoding. Returns false when the client is gone.
  virtual bool begin_stream(const HttpResponse& head) = 0;
  // Writes bytes of the streamed body (an SSE event, a comment). Suspends while the socket drains;
  // returns false once the client is gone or has fallen further behind than the server allows.
  virtual bool write(std::string_view bytes) = 0;
  // Ends the streamed body (last chunk). No-op when the client is gone.
  virtual void end_stream() = 0;
  // True once respond() or begin_stream() was called.
  virtual bool started() const = 0;
  // True once the client has gone (disconnect noticed on a write, or a closed read side).
  virtual bool client_gone() const = 0;
};

using Handler = std::function<void(HttpRequest& request, ResponseWriter& writer)>;

// Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html): one
// event with optional id and type; multi-line data becomes several data: lines.
std::string sse_event(std::string_view data, std::string_view event = {}, std::string_view id = {});
// A comment line (": text\n\n"), used as a heartbeat.
std::string sse_comment(std::string_view text);

}  // namespace chatscale::http
