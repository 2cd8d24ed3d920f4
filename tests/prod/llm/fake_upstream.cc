#include "tests/prod/llm/fake_upstream.h"

#include <chrono>
#include <cstdio>

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace chatscale::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string header_text(const http::request<http::string_body>& req, http::field field) {
  auto value = req[field];
  return std::string(value.data(), value.size());
}

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " +
         std::string(http::obsolete_reason(static_cast<http::status>(status))) + "\r\n";
}

std::string hex(std::size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

}  // namespace

FakeUpstream::FakeUpstream(net::io_context& ioc) : ioc_(ioc) { listen(); }

FakeUpstream::~FakeUpstream() = default;

std::string FakeUpstream::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeUpstream::listen() {
  acceptor_ = std::make_unique<tcp::acceptor>(ioc_);
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_));
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(net::socket_base::reuse_address(true));
  acceptor_->bind(endpoint);
  acceptor_->listen();
  port_ = acceptor_->local_endpoint().port();
  std::uint64_t generation = ++generation_;
  spawn_task(ioc_, [this, generation](TaskYield) { accept_loop(generation); });
}

void FakeUpstream::accept_loop(std::uint64_t generation) {
  const TaskContext* task = current_task();
  while (generation == generation_ && acceptor_ && acceptor_->is_open()) {
    auto socket = std::make_shared<tcp::socket>(ioc_);
    beast::error_code ec;
    acceptor_->async_accept(*socket, (*task->yield)[ec]);
    if (ec || generation != generation_) return;
    connections_.push_back(socket);
    spawn_task(ioc_, [this, socket](TaskYield) { serve(socket); });
  }
}

void FakeUpstream::close() {
  ++generation_;
  if (acceptor_) {
    beast::error_code ec;
    acceptor_->close(ec);
  }
  for (auto& weak : connections_) {
    if (auto socket = weak.lock()) {
      beast::error_code ec;
      socket->shutdown(tcp::socket::shutdown_both, ec);
      socket->close(ec);
    }
  }
  connections_.clear();
  release();  // paused replies notice the closed socket
}

void FakeUpstream::reopen() { listen(); }

void FakeUpstream::release() {
  released_ = true;
  for (auto& weak : gates_)
    if (auto gate = weak.lock()) gate->cancel();
  gates_.clear();
}

void FakeUpstream::wait_for_release() {
  const TaskContext* task = current_task();
  auto gate = std::make_shared<net::steady_timer>(*task->executor);
  gates_.push_back(gate);
  while (!released_) {
    gate->expires_after(std::chrono::hours(1));
    beast::error_code ec;
    gate->async_wait((*task->yield)[ec]);
  }
}

void FakeUpstream::pause_ms(int ms) {
  if (ms <= 0) return;
  const TaskContext* task = current_task();
  net::steady_timer timer(*task->executor);
  timer.expires_after(std::chrono::milliseconds(ms));
  beast::error_code ec;
  timer.async_wait((*task->yield)[ec]);
}

UpstreamReply FakeUpstream::next_reply() {
  if (replies_.empty()) {
    UpstreamReply none;
    none.status = 500;
    none.content_type = "application/json";
    none.body = R"({"error":{"message":"no reply scripted"}})";
    return none;
  }
  UpstreamReply reply = replies_.front();
  if (replies_.size() > 1) replies_.pop_front();
  return reply;
}

bool FakeUpstream::write(tcp::socket& socket, const std::string& bytes) {
  const TaskContext* task = current_task();
  beast::error_code ec;
  net::async_write(socket, net::buffer(bytes), (*task->yield)[ec]);
  return !ec;
}

void FakeUpstream::serve(std::shared_ptr<tcp::socket> socket) {
  const TaskContext* task = current_task();
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  beast::error_code ec;
  http::async_read(*socket, buffer, req, (*task->yield)[ec]);
  if (ec) return;
  std::string method(req.method_string().data(), req.method_string().size());
  std::string target(req.target().data(), req.target().size());
  requests_.push_back({method, target, header_text(req, http::field::authorization),
                       header_text(req, http::field::content_type), header_text(req, http::field::accept),
                       req.body()});
  if (req.method() == http::verb::get) {
    ++health_requests_;
    std::string body = R"({"object":"list","data":[{"id":"upstream-model","object":"model"}]})";
    write(*socket, status_line(health_status_) + "Content-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  } else {
    ++chat_requests_;
    answer_chat(*socket, next_reply());
  }
  socket->shutdown(tcp::socket::shutdown_both, ec);
  socket->close(ec);
}

void FakeUpstream::answer_chat(tcp::socket& socket, const UpstreamReply& reply) {
  if (reply.pause_before_head) wait_for_release();
  if (reply.hang_up) return;
  if (!reply.raw.empty()) {
    write(socket, reply.raw);
    return;
  }
  std::string head = status_line(reply.status) + "Content-Type: " + reply.content_type + "\r\nConnection: close\r\n";
  if (reply.chunks.empty()) {
    write(socket, head + "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body);
    return;
  }
  if (!write(socket, head + "Transfer-Encoding: chunked\r\n\r\n")) return;
  for (std::size_t i = 0; i < reply.chunks.size(); ++i) {
    if (static_cast<int>(i) == reply.pause_before_chunk) wait_for_release();
    if (i > 0) pause_ms(reply.chunk_delay_ms);
    const std::string& piece = reply.chunks[i];
    if (!write(socket, hex(piece.size()) + "\r\n" + piece + "\r\n")) return;
  }
  if (!reply.drop_before_end) write(socket, "0\r\n\r\n");
}

}  // namespace chatscale::testing
