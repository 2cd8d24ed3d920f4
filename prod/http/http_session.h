// One HTTP connection of HttpServer (internal to prod/http), written once for plain TCP and TLS:
// HttpSession<beast::tcp_stream> and HttpSession<ssl::stream<beast::tcp_stream>>.
//
// The session runs inside the connection's task: it reads a request (Beast request_parser with the
// header and body limits, under a read deadline), routes it, and is itself the handler's
// ResponseWriter. Bytes go out through a small queue and one writer at a time (a callback chain on
// the task's strand), so a streaming handler does not wait for a slow client: write() queues a chunk
// and yields once so the writer can run; if more than max_stream_buffer_bytes are still undrained when
// the handler writes, the client is too slow and the connection is dropped. While a response streams,
// a read on the socket watches for the client going away (EOF, reset, TLS close_notify), so
// client_gone() turns true even while the stream is idle.
//
// Ownership: held by a shared_ptr; the task and every pending callback (writer, watcher, timers) hold
// a reference, so the session outlives all its operations. Thread-safety: everything runs on the
// task's strand; the server reaches a session only through Connection::post_stop(), which posts to
// that strand. Failure behaviour: I/O errors end the connection (a dropped client); nothing throws
// out of run() except the coroutine's forced unwinding.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/coroutine/exceptions.hpp>

#include "prod/http/http_server.h"
#include "prod/http/http_wire.h"
#include "prod/http/responses.h"
#include "prod/runtime/task.h"

namespace chatscale::http::detail {

// What the server may ask of a live connection, from any thread.
class Connection {
 public:
  virtual ~Connection() = default;
  // Posts to the connection's strand: force = close now; else close only if idle (waiting for a
  // request that has not started), and do not keep the connection alive after the current response.
  virtual void post_stop(bool force) = 0;
};

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

template <typename Stream>
class HttpSession final : public ResponseWriter,
                          public Connection,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(const SessionEnv& env, Stream stream, TaskStrand strand, std::string remote)
      : env_(env),
        options_(*env.options),
        stream_(std::move(stream)),
        strand_(std::move(strand)),
        remote_(std::move(remote)),
        buffer_(options_.max_header_bytes + kReadChunkBytes),
        deadline_timer_(strand_),
        write_timer_(strand_),
        wake_timer_(strand_) {}

  // The connection's whole life; returns once it is closed.
  void run(TaskYield& yield) {
    yield_ = &yield;
    if (handshake()) {
      while (!closed_ && !env_.stopping->load()) {
        std::optional<HttpRequest> request = read_request();
        if (!request) break;
        serve(*request);
        if (!keep_alive_ || gone_) break;
      }
    }
    close_connection(false);
    yield_ = nullptr;
  }

  void post_stop(bool force) override {
    boost::asio::post(strand_, [self = this->shared_from_this(), force] { self->on_stop(force); });
  }

  // ResponseWriter.
  bool respond(const HttpResponse& response) override {
    if (started_) return false;
    started_ = true;
    if (gone_) return false;
    keep_alive_ = keep_alive_ && !env_.stopping->load();
    bool body = !head_only_ && !wire::status_forbids_body(response.status);
    std::string out = wire::format_head(response, wire::Framing::kContentLength, response.body.size(),
                                        keep_alive_, version_);
    if (body) out.append(response.body);
    enqueue(std::move(out));
    wait_until_drained();
    return !gone_;
  }

  bool begin_stream(const HttpResponse& head) override {
    if (started_) return false;
    started_ = true;
    if (gone_) return false;
    streaming_ = true;
    chunked_ = version_ >= 11;
    keep_alive_ = chunked_ && keep_alive_ && !env_.stopping->load();
    counted_stream_ = true;
    env_.streams->fetch_add(1, std::memory_order_relaxed);
    start_watch();
    enqueue(wire::format_head(head, chunked_ ? wire::Framing::kChunked : wire::Framing::kUntilClose, 0,
                              keep_alive_, version_));
    yield_once();
    return !gone_;
  }

  bool write(std::string_view bytes) override {
    if (!streaming_ || ended_ || gone_) return false;
    if (bytes.empty() || head_only_) return true;
    if (pending_bytes_ > options_.max_stream_buffer_bytes) {
      drop();  // the client fell too far behind; it may resume the stream on a new connection
      return false;
    }
    enqueue(chunked_ ? wire::frame_chunk(bytes) : std::string(bytes));
    yield_once();
    return !gone_;
  }

  void end_stream() override {
    if (!streaming_ || ended_) return;
    ended_ = true;
    if (!gone_ && chunked_ && !head_only_) enqueue(std::string(wire::kLastChunk));
    wait_until_drained();
    release_stream_gauge();
  }

  bool started() const override { return started_; }
  bool client_gone() const override { return gone_; }

  ~HttpSession() override { release_stream_gauge(); }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  static constexpr std::size_t kReadChunkBytes = 65536;
  static constexpr std::size_t kMaxBuffersPerWrite = 64;
  static constexpr double kLingerSeconds = 1.0;
  static constexpr std::size_t kLingerMaxBytes = 1 << 20;
  enum class Phase { kHandshake, kReading, kHandling };
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Clock = std::chrono::steady_clock;

  auto& socket() { return boost::beast::get_lowest_layer(stream_).socket(); }

  // --- Reading requests -------------------------------------------------------------------------

  bool handshake() {
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      boost::system::error_code ec;
      arm_deadline(options_.read_timeout_s);
      stream_.async_handshake(boost::asio::ssl::stream_base::server, (*yield_)[ec]);
      disarm_deadline();
      if (ec) gone_ = true;  // a failed handshake leaves nothing to say to the peer
      return !ec && !closed_;
    }
    return true;
  }

  // The next request, or nullopt when the connection is to close (an error was answered, or the
  // client went away, or an idle connection timed out).
  std::optional<HttpRequest> read_request() {
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));
    boost::system::error_code ec = read_message();
    phase_ = Phase::kHandling;
    if (ec || closed_) {
      bool started = buffer_.size() > 0 || parser_->got_some();
      parser_.reset();
      bool quiet = closed_ || (stop_requested_ && !started);
      auto response = quiet ? std::nullopt
                            : wire::response_for_read_error(ec, started, timed_out_, options_.max_header_bytes,
                                                            options_.max_body_bytes);
      if (response) answer_error_and_close(*response);
      return std::nullopt;
    }
    version_ = parser_->get().version();
    keep_alive_ = parser_->get().keep_alive();
    head_only_ = parser_->get().method() == boost::beast::http::verb::head;
    auto request = wire::to_request(parser_->release(), remote_, kTls);
    parser_.reset();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();  // idle streams keep no read buffer
    if (!request.is_ok()) {
      answer_error_and_close(error_response(request.status()));
      return std::nullopt;
    }
    return std::move(request).value();
  }

  boost::system::error_code read_message() {
    boost::system::error_code ec;
    arm_deadline(options_.read_timeout_s);
    boost::beast::http::async_read_header(stream_, buffer_, *parser_, (*yield_)[ec]);
    if (!ec && !parser_->is_done() && expects_continue()) {
      // The client waits for this before sending its body (curl does for large bodies).
      enqueue(std::string(wire::kContinue));
      wait_until_drained();
      if (gone_) ec = boost::asio::error::connection_aborted;
    }
    if (!ec && !parser_->is_done()) boost::beast::http::async_read(stream_, buffer_, *parser_, (*yield_)[ec]);
    disarm_deadline();
    return ec;
  }

  bool expects_continue() const {
    auto it = parser_->get().find(boost::beast::http::field::expect);
    return it != parser_->get().end() && boost::beast::iequals(it->value(), "100-continue");
  }

  // --- Serving ----------------------------------------------------------------------------------

  void serve(HttpRequest& request) {
    started_ = streaming_ = ended_ = chunked_ = false;
    bool failed = false;
    try {
      env_.router->dispatch(request, *this);
    } catch (const boost::coroutines::detail::forced_unwind&) {
      throw;  // the coroutine is being destroyed: let it unwind
    } catch (const std::exception& e) {
      failed = true;
      wire::log_line("handler for " + request.method + " from " + remote_ + " threw " + typeid(e).name());
    } catch (...) {
      failed = true;
      wire::log_line("handler for " + request.method + " from " + remote_ + " threw a non-exception");
    }
    if (failed && started_) {
      drop();  // the response is cut short; the client sees no last chunk
    } else if (!started_) {
      respond(error_response(internal_error(failed ? "internal error" : "the handler sent no response")));
    } else if (streaming_ && !ended_) {
      end_stream();
    }
    stop_watch();
    release_stream_gauge();
  }

  void answer_error_and_close(const HttpResponse& response) {
    started_ = streaming_ = ended_ = chunked_ = head_only_ = false;
    keep_alive_ = false;
    version_ = 11;
    respond(response);
    close_connection(true);
  }

  void on_stop(bool force) {
    stop_requested_ = true;
    bool idle = phase_ == Phase::kHandshake ||
                (phase_ == Phase::kReading && buffer_.size() == 0 && !(parser_ && parser_->got_some()));
    if (force || idle) drop();
  }

  // --- Closing ----------------------------------------------------------------------------------

  // linger: after an error answer, stop sending and read what the client still sends for a moment,
  // so that closing does not reset the connection before the client has read the answer.
  void close_connection(bool linger) {
    if (!closed_ && !gone_) {
      if constexpr (kTls) {
        boost::system::error_code ec;
        arm_deadline(kLingerSeconds);
        stream_.async_shutdown((*yield_)[ec]);
        disarm_deadline();
      } else if (linger) {
        linger_then_close();
      }
    }
    drop();
    boost::system::error_code ignored;
    deadline_timer_.cancel(ignored);
    write_timer_.cancel(ignored);
    wake_timer_.cancel(ignored);
  }

  void linger_then_close() {
    boost::system::error_code ec;
    socket().shutdown(boost::asio::socket_base::shutdown_send, ec);
    if (ec) return;
    std::vector<char> sink(16384);
    std::size_t total = 0;
    arm_deadline(kLingerSeconds);
    while (!ec && !closed_ && total < kLingerMaxBytes)
      total += stream_.async_read_some(boost::asio::buffer(sink), (*yield_)[ec]);
    disarm_deadline();
  }

  // Closes the socket now; pending reads and writes complete with errors. Idempotent.
  void drop() {
    if (closed_) return;
    closed_ = true;
    gone_ = true;
    boost::system::error_code ignored;
    socket().close(ignored);
    release_stream_gauge();
    wake();
  }

  void release_stream_gauge() {
    if (!counted_stream_) return;
    counted_stream_ = false;
    env_.streams->fetch_sub(1, std::memory_order_relaxed);
  }

  // --- Deadlines for reads (request, handshake, linger) -------------------------------------------

  void arm_deadline(double seconds) {
    timed_out_ = false;
    std::uint64_t generation = ++deadline_generation_;
    deadline_timer_.expires_after(to_duration(seconds));
    deadline_timer_.async_wait(boost::asio::bind_executor(
        strand_, [self = this->shared_from_this(), generation](const boost::system::error_code& ec) {
          if (ec || generation != self->deadline_generation_) return;
          self->timed_out_ = true;
          boost::system::error_code ignored;
          self->socket().cancel(ignored);
        }));
  }

  void disarm_deadline() {
    ++deadline_generation_;
    boost::system::error_code ignored;
    deadline_timer_.cancel(ignored);
  }

  static Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds > 0 ? seconds : 0));
  }

  // --- Writing: a queue, one async_write at a time, a write deadline ------------------------------

  void enqueue(std::string bytes) {
    if (closed_ || bytes.empty()) return;
    pending_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    if (!writing_) start_write();
  }

  void start_write() {
    in_flight_.clear();
    std::vector<boost::asio::const_buffer> buffers;
    while (!queue_.empty() && in_flight_.size() < kMaxBuffersPerWrite) {
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    buffers.reserve(in_flight_.size());
    for (const std::string& s : in_flight_) buffers.emplace_back(s.data(), s.size());
    writing_ = true;
    write_started_ = Clock::now();
    if (!write_timer_armed_) arm_write_timer(write_started_ + to_duration(options_.write_timeout_s));
    boost::asio::async_write(
        stream_, buffers,
        boost::asio::bind_executor(strand_, [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                                             std::size_t) { self->on_written(ec); }));
  }

  void on_written(const boost::system::error_code& ec) {
    writing_ = false;
    for (const std::string& s : in_flight_) pending_bytes_ -= s.size();
    in_flight_.clear();
    if (ec) {
      drop();
      return;
    }
    if (!queue_.empty() && !closed_) {
      start_write();
    } else {
      wake();
    }
  }

  // One timer wait covers many writes: it fires at most once per write timeout and re-arms for the
  // write in flight, instead of a timer operation per chunk.
  void arm_write_timer(Clock::time_point deadline) {
    write_timer_armed_ = true;
    write_timer_.expires_at(deadline);
    write_timer_.async_wait(boost::asio::bind_executor(
        strand_, [self = this->shared_from_this()](const boost::system::error_code& ec) {
          self->write_timer_armed_ = false;
          if (ec || self->closed_ || !self->writing_) return;
          Clock::time_point due = self->write_started_ + to_duration(self->options_.write_timeout_s);
          if (Clock::now() >= due) {
            self->drop();  // the client takes nothing: cut it off
          } else {
            self->arm_write_timer(due);
          }
        }));
  }

  void wait_until_drained() {
    while ((writing_ || !queue_.empty()) && !closed_) wait_for_wake();
  }

  // Suspends the task until wake() (from a callback on this strand). The condition is re-checked by
  // the caller; the wait starts before the strand is released, so no wake-up is lost.
  void wait_for_wake() {
    boost::system::error_code ec;
    wake_timer_.expires_at(Clock::time_point::max());
    wake_timer_.async_wait((*yield_)[ec]);
  }

  void wake() {
    boost::system::error_code ignored;
    wake_timer_.cancel(ignored);
  }

  // Lets the writer's completions run before the handler goes on (they queue behind the task).
  void yield_once() { boost::asio::post(strand_, *yield_); }

  // --- Watching for the client going away while a response streams --------------------------------

  void start_watch() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.async_read_some(
        boost::asio::buffer(watch_buffer_),
        boost::asio::bind_executor(strand_, [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                                             std::size_t n) { self->on_watch(ec, n); }));
  }

  void on_watch(const boost::system::error_code& ec, std::size_t n) {
    watching_ = false;
    if (n > 0) {
      // The client pipelined its next request: keep the bytes for the parser; it is alive, stop watching.
      auto space = buffer_.max_size() - buffer_.size();
      if (n <= space) {
        boost::asio::buffer_copy(buffer_.prepare(n), boost::asio::buffer(watch_buffer_.data(), n));
        buffer_.commit(n);
      } else {
        drop();
      }
    } else if (ec && ec != boost::asio::error::operation_aborted) {
      drop();  // EOF, reset or TLS close: the client is gone
    }
    wake();
  }

  void stop_watch() {
    if (!watching_) return;
    boost::system::error_code ignored;
    socket().cancel(ignored);  // the writer is idle here: only the watch is pending
    while (watching_) wait_for_wake();
  }

  const SessionEnv& env_;
  const HttpServerOptions& options_;
  Stream stream_;
  TaskStrand strand_;
  std::string remote_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer write_timer_;
  boost::asio::steady_timer wake_timer_;
  TaskYield* yield_ = nullptr;

  Phase phase_ = Phase::kHandshake;
  std::uint64_t deadline_generation_ = 0;
  bool timed_out_ = false;
  bool stop_requested_ = false;
  bool gone_ = false;    // the client is gone or was dropped: writes fail
  bool closed_ = false;  // the socket is closed

  // The writer.
  std::deque<std::string> queue_;
  std::vector<std::string> in_flight_;
  std::size_t pending_bytes_ = 0;  // queued + in flight
  bool writing_ = false;
  bool write_timer_armed_ = false;
  Clock::time_point write_started_;

  // The watch for a departed client.
  std::array<char, 256> watch_buffer_{};
  bool watching_ = false;

  // The current request's response.
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool started_ = false;
  bool streaming_ = false;
  bool ended_ = false;
  bool chunked_ = false;
  bool counted_stream_ = false;
};

}  // namespace chatscale::http::detail
