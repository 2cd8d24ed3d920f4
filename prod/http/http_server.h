// The HTTP/1.1 server of `chatscale serve`: Boost.Beast over Asio, optional TLS (OpenSSL, TLS 1.2+),
// server-sent event streams, graceful drain. Each connection is a task (prod/runtime/task.h) that
// reads one request at a time (keep-alive) and runs the routed handler inside the task, so a handler
// may suspend (RealClock waits, BlockingPool calls) without blocking an I/O thread.
//
// Limits: headers past max_header_bytes answer 431, bodies past max_body_bytes 413, malformed
// requests 400, a request not fully received within read_timeout_s 408 (an idle keep-alive connection
// is closed quietly after the same time); each write must finish within write_timeout_s; a streamed
// response may have at most max_stream_buffer_bytes written but not yet taken by the client when the
// handler writes again, beyond which the connection is dropped (write() returns false; the handler
// goes on). Connections beyond max_connections are answered 503 and closed (over TLS: closed without a
// handshake). A handler that throws answers 500 when nothing was sent yet, else the connection is cut.
//
// Memory per connection: one task stack of task_stack_bytes (taken from malloc, touched only as deep
// as the code goes; no guard page, so it must cover the deepest handler) plus a few KiB of buffers.
// Measured high-water mark of a task stack (painted stack, Release): 9.5 KiB for a request whose
// handler parses and serialises JSON, calls BlockingPool, waits on RealClock and streams; 20 KiB over
// TLS (the handshake runs partly on it). The 64 KiB default leaves 44 KiB or more for deeper handlers
// (database and hashing run on BlockingPool threads, not on this stack); 4x under AddressSanitizer,
// whose redzones enlarge frames. 19,000 idle SSE streams on 2 I/O threads held 18.6 KiB of RSS each
// over plain TCP and 107 KiB each over TLS (Asio's SSL engine keeps about 68 KiB of fixed buffers).
//
// Logs (stderr, "http: ..."): start, stop, server-side errors (accept failures, handler exceptions,
// with the peer address); never request or message contents; client protocol errors are not logged.
//
// Ownership: the server owns its io_context, acceptor, TLS context and connections; the Router is
// borrowed and must outlive the server. Thread-safety: start() once, then run() on one thread (it runs
// io_threads threads including the caller). stop(), port(), connections() and streams() are safe from
// any thread, including from handlers. Destroy the server after run() has returned.
// Failure behaviour: start() returns a Status (bad address, port in use, unreadable certificate or
// key, an invalid route); afterwards nothing throws out of the server.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/status.h"
#include "prod/http/router.h"
#include "prod/runtime/task.h"

namespace chatscale::http {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr std::size_t kDefaultConnectionStackBytes = 256 * 1024;
#else
inline constexpr std::size_t kDefaultConnectionStackBytes = 64 * 1024;
#endif

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an address, or a name resolved at start()
  int port = 0;                    // 0 = any free port; port() tells which
  int io_threads = 1;
  std::size_t max_header_bytes = 16384;
  std::size_t max_body_bytes = 1048576;
  double read_timeout_s = 30;
  double write_timeout_s = 30;
  std::size_t max_stream_buffer_bytes = 262144;
  int max_connections = 50000;
  double drain_timeout_s = 20;
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file, every connection is TLS
  std::string tls_key_file;   // PEM private key
  std::size_t task_stack_bytes = kDefaultConnectionStackBytes;
};

namespace detail {
class Connection;
struct SessionEnv {
  const HttpServerOptions* options = nullptr;
  const Router* router = nullptr;
  const std::atomic<bool>* stopping = nullptr;
  std::atomic<int>* streams = nullptr;
};
}  // namespace detail

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Checks the router, loads the TLS files, binds and listens. Connections are served once run() runs.
  Status start();
  // The bound port (after a successful start()), else 0.
  int port() const { return port_.load(); }
  bool tls() const { return ssl_ != nullptr; }

  // Runs the I/O threads (the caller and io_threads - 1 more) until the server has stopped and every
  // connection has ended. Returns at once if start() did not succeed. Call once.
  void run();

  // Stops accepting at once (new connections are refused) and closes idle keep-alive connections.
  // drain = true: requests and streams in flight may finish within drain_timeout_s, then the rest are
  // closed (their writes fail). drain = false: everything is closed now. Returns at once; run()
  // returns when the last connection has gone. A second call may escalate a drain to an immediate stop.
  void stop(bool drain = true);

  // Gauges for metrics: open connections, and responses currently streaming.
  int connections() const { return connections_.load(std::memory_order_relaxed); }
  int streams() const { return streams_.load(std::memory_order_relaxed); }

  // The server's io_context, for other tasks that should share its threads.
  boost::asio::io_context& io_context() { return ioc_; }

 private:
  Status load_tls();
  Status bind();
  void accept_next();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  void start_connection(boost::asio::ip::tcp::socket socket);
  void serve_connection(boost::asio::ip::tcp::socket socket, std::string remote, TaskYield& yield);
  // 0 when the server is stopping (the connection must close).
  std::uint64_t register_connection(std::shared_ptr<detail::Connection> connection);
  void unregister_connection(std::uint64_t id);
  void drain_then_close();

  HttpServerOptions options_;
  Router& router_;
  std::atomic<int> port_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> streams_{0};
  std::atomic<bool> stopping_{false};
  detail::SessionEnv env_;
  std::unique_ptr<boost::asio::ssl::context> ssl_;

  std::mutex mu_;
  bool started_ = false;                                                    // guarded by mu_
  std::uint64_t next_id_ = 1;                                               // guarded by mu_
  std::unordered_map<std::uint64_t, std::weak_ptr<detail::Connection>> live_;  // guarded by mu_

  // Declared last: destroyed first, so connection tasks unwound by its destruction still see the
  // members above. The acceptor and its timer go before the io_context.
  boost::asio::io_context ioc_;
  boost::asio::strand<boost::asio::io_context::executor_type> accept_strand_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;  // used on accept_strand_ only
  boost::asio::steady_timer accept_retry_;                  // used on accept_strand_ only
};

}  // namespace chatscale::http
