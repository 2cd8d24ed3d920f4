// HTTP/1.1 wire details shared by the plain and TLS sessions (prod/http/http_session.h): turning a
// parsed Beast request into an HttpRequest, serialising response heads and chunks, and deciding what
// to answer when reading a request fails. Internal to prod/http.
//
// Ownership: values. Thread-safety: pure functions, except log_line (one fprintf per line, which
// stdio makes atomic). Failure behaviour: to_request() returns an error Status for a target that is
// not a path; nothing throws on bad input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include "core/status.h"
#include "prod/http/http_types.h"

namespace chatscale::http::wire {

// How a response body is delimited.
enum class Framing { kContentLength, kChunked, kUntilClose };

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

Result<HttpRequest> to_request(BeastRequest&& message, std::string remote, bool tls);

// True for statuses that carry no body (1xx, 204, 304).
bool status_forbids_body(int status);
bool is_event_stream(std::string_view content_type);

// The status line and headers of a response, ending with the blank line. Adds `server`, the framing
// header, `connection` as needed and, for a streamed text/event-stream, `cache-control: no-cache` and
// `x-accel-buffering: no`. Handler headers with invalid names or values (CR, LF, NUL) and headers the
// server owns (content-length, transfer-encoding, connection, server) are left out.
std::string format_head(const HttpResponse& response, Framing framing, std::size_t content_length,
                        bool keep_alive, unsigned version);

// One chunk of a chunked body; `bytes` must not be empty.
std::string frame_chunk(std::string_view bytes);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// What to answer when reading a request ended with `ec`: nullopt to close quietly (the client went
// away, or an idle connection), else an error response (400, 408, 413, 431) after which the server
// closes the connection. `started`: some bytes of the request had arrived; `timed_out`: the server's
// read deadline passed.
std::optional<HttpResponse> response_for_read_error(const boost::system::error_code& ec, bool started,
                                                    bool timed_out, std::size_t max_header_bytes,
                                                    std::size_t max_body_bytes);

// The 503 sent to a connection beyond max_connections, as bytes on the wire.
std::string busy_response_bytes();

// "127.0.0.1:5000" / "[::1]:5000".
std::string format_endpoint(const std::string& address, unsigned short port, bool v6);

// One line on stderr, prefixed "http: ". Never pass message contents.
void log_line(std::string_view line);

}  // namespace chatscale::http::wire
