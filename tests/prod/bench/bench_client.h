// The HTTP client side of chatscale_loadgen (tests/prod/bench): one keep-alive connection that sends
// a JSON request and reads either a whole response or a Server-Sent Events stream, noting when the
// header, the first delta and the final event arrive; a pool of such connections for one I/O
// thread; and the SSE scanner that recognizes chatscale's and OpenAI's stream events.
//
// Everything here runs as C++20 coroutines (asio::awaitable) on one io_context driven by ONE thread:
// the load generator gives each of its I/O threads a shard of its own (its own io_context, pool and
// conversations), so nothing here locks.
//
// Ownership: a Connection owns its socket and read buffer; the pool owns idle connections and hands
// them out by unique_ptr (giving one back returns it). Thread-safety: none (one thread per shard).
// Failure behaviour: no exceptions escape; transport failures come back as status 0 with `error`
// set, and a connection that failed, or that the server will close, is not reused.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace chatscale::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

struct HttpResult {
  int status = 0;  // 0: no response (connect, write or read failed; `error` says why)
  std::string body;
  std::string error;
};

// Which event grammar the stream speaks: POST /conversations/{id}/messages (`event: delta`,
// `event: done`) or /v1/chat/completions (`data: {chunk}` ... `data: [DONE]`).
enum class StreamFormat { kChatscale, kOpenAi };

enum class SseEvent { kOther, kDelta, kDone, kDoneWithError };

// Splits an SSE body into events (blank-line separated) and classifies each. Comments (heartbeats)
// and the chatscale `message` event are kOther; an OpenAI chunk counts as a delta only when it carries
// non-empty content (the first chunk carries just the role).
class SseScanner {
 public:
  explicit SseScanner(StreamFormat format) : format_(format) {}
  // Appends bytes and calls on_event(SseEvent) for every event completed by them.
  void feed(std::string_view bytes, const std::function<void(SseEvent)>& on_event);

 private:
  SseEvent classify(std::string_view block) const;

  StreamFormat format_;
  std::string pending_;
};

// What one streamed answer looked like from the client's side.
struct StreamResult {
  int status = 0;  // HTTP status; 0: no response
  std::optional<SteadyTime> headers_at;
  std::optional<SteadyTime> first_delta_at;
  std::optional<SteadyTime> done_at;
  std::size_t deltas = 0;
  bool done_error = false;  // the final event reported a failed generation
  std::string error;        // transport error, or the start of a non-200 body
};

// Called as a stream progresses (streams mode counts established and live streams with these).
struct StreamHooks {
  std::function<void(std::string_view message_id)> on_headers;  // a 200 header arrived (x-chatscale-message-id)
  std::function<void()> on_delta;
};

class Connection {
 public:
  explicit Connection(net::any_io_executor executor);

  // Opens a TCP connection with TCP_NODELAY; binds to `source` first unless it is unspecified (to
  // spread many connections over several loopback addresses' ephemeral ports).
  net::awaitable<beast::error_code> connect(tcp::endpoint server, net::ip::address source);
  // True while the connection may carry another request (keep-alive, no error so far).
  bool reusable() const { return reusable_; }
  // Requests sent on this connection so far (more than zero: it is a kept-alive one).
  std::size_t uses() const { return uses_; }
  void close();

  // One request with a JSON body (empty: none) and an optional bearer token; the whole response.
  net::awaitable<HttpResult> request(http::verb verb, std::string target, std::string body, const std::string& bearer,
                                     std::chrono::milliseconds timeout);
  // POSTs `body` and reads the SSE answer to its end (or until the connection fails or is closed).
  // idle_timeout bounds each wait for bytes; zero means wait as long as it takes.
  net::awaitable<StreamResult> stream(std::string target, std::string body, const std::string& bearer,
                                      StreamFormat format, std::chrono::milliseconds idle_timeout,
                                      const StreamHooks& hooks = {});

 private:
  http::request<http::string_body> make_request(http::verb verb, std::string target, std::string body,
                                                const std::string& bearer);
  net::awaitable<void> read_stream_body(http::response_parser<http::buffer_body>& parser, StreamResult& result,
                                        StreamFormat format, std::chrono::milliseconds idle_timeout,
                                        const StreamHooks& hooks);
  void arm(std::chrono::milliseconds timeout);

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string host_;
  bool reusable_ = false;
  std::size_t uses_ = 0;
};

// Keep-alive connections to one server for one shard. acquire() hands out an idle connection, opens
// a new one while fewer than max_open are open, else waits for one to come back (the wait counts in
// the caller's latency: the load is open-loop and measured from each message's scheduled time).
class ConnectionPool {
 public:
  ConnectionPool(net::io_context& ioc, tcp::endpoint server, std::size_t max_open);

  // nullptr when a connect failed (`error` then says why) or the wait outlasted `deadline`.
  net::awaitable<std::unique_ptr<Connection>> acquire(SteadyTime deadline, std::string& error);
  // Returns a connection; one that is not reusable is closed and frees its slot.
  void release(std::unique_ptr<Connection> connection);
  // Opens up to n idle connections ahead of the load; returns how many are idle.
  net::awaitable<std::size_t> prefill(std::size_t n);
  void close_idle();

  net::io_context& context() { return ioc_; }
  std::size_t open() const { return open_; }
  std::size_t opened_total() const { return opened_total_; }

 private:
  net::io_context& ioc_;
  tcp::endpoint server_;
  std::size_t max_open_;
  std::size_t open_ = 0;
  std::size_t opened_total_ = 0;
  std::deque<std::unique_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<net::steady_timer>> waiters_;
};

// Waits for a set of coroutines on one thread: add() before spawning each, done() when each ends,
// co_await wait() until all have ended.
class WaitGroup {
 public:
  explicit WaitGroup(net::io_context& ioc) : timer_(ioc, SteadyTime::max()) {}
  void add(std::size_t n = 1) { pending_ += n; }
  void done() {
    if (--pending_ == 0) timer_.cancel();
  }
  std::size_t pending() const { return pending_; }
  net::awaitable<void> wait() {
    while (pending_ > 0) {
      beast::error_code ignored;
      timer_.expires_at(SteadyTime::max());
      co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ignored));
    }
  }

 private:
  std::size_t pending_ = 0;
  net::steady_timer timer_;
};

// "Name: message" for an error code (what the reports show).
std::string describe(const beast::error_code& ec);

}  // namespace chatscale::bench
