// FakeUpstream: a small OpenAI-compatible HTTP server for tests (Boost.Beast), listening on
// 127.0.0.1 at a free port and running as tasks in the test's io_context. It records every request,
// answers `POST .../chat/completions` with scripted replies (SSE chunk streams, error statuses,
// garbage, pauses, a dropped connection) and `GET .../models` with a health status.
//
// Ownership: it must outlive the io_context's run. Thread-safety: for a single-threaded io_context
// (every method is called from the test's tasks or before run). Failure: setup errors throw
// (boost::system::system_error) and fail the test.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "prod/runtime/task.h"

namespace chatscale::testing {

struct UpstreamReply {
  int status = 200;
  std::string content_type = "text/event-stream";
  std::vector<std::string> chunks;  // a streamed body: each piece written and flushed as one HTTP chunk
  std::string body;                 // a whole body (Content-Length), used when chunks is empty
  std::string raw;                  // when set: written as-is instead of a response, then the connection closes
  bool hang_up = false;             // close the connection without answering
  bool pause_before_head = false;   // wait for release() before anything is written
  int pause_before_chunk = -1;      // wait for release() before writing this chunk
  int chunk_delay_ms = 0;           // a pause between chunks (slow tokens)
  bool drop_before_end = false;     // after the chunks, close without the terminating chunk
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string authorization;
  std::string content_type;
  std::string accept;
  std::string body;
};

class FakeUpstream {
 public:
  explicit FakeUpstream(boost::asio::io_context& ioc);
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"

  // Replies to chat completions, in order; the last one is repeated once the queue is down to it.
  void push_reply(UpstreamReply reply) { replies_.push_back(std::move(reply)); }
  void set_health_status(int status) { health_status_ = status; }
  // Lets every paused reply (now and later) go on.
  void release();
  // Stops listening and drops open connections: connects are refused from now on.
  void close();
  // Listens again on the same port.
  void reopen();

  const std::vector<RecordedRequest>& requests() const { return requests_; }
  int chat_requests() const { return chat_requests_; }
  int health_requests() const { return health_requests_; }

 private:
  void listen();
  void accept_loop(std::uint64_t generation);
  void serve(std::shared_ptr<boost::asio::ip::tcp::socket> socket);
  void answer_chat(boost::asio::ip::tcp::socket& socket, const UpstreamReply& reply);
  bool write(boost::asio::ip::tcp::socket& socket, const std::string& bytes);
  void wait_for_release();
  void pause_ms(int ms);
  UpstreamReply next_reply();

  boost::asio::io_context& ioc_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  int port_ = 0;
  std::uint64_t generation_ = 0;
  std::deque<UpstreamReply> replies_;
  int health_status_ = 200;
  bool released_ = false;
  std::vector<std::weak_ptr<boost::asio::steady_timer>> gates_;
  std::vector<std::weak_ptr<boost::asio::ip::tcp::socket>> connections_;
  std::vector<RecordedRequest> requests_;
  int chat_requests_ = 0;
  int health_requests_ = 0;
};

}  // namespace chatscale::testing
