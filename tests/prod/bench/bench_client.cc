#include "bench_client.h"

#include <array>
#include <cstdint>
#include <limits>

namespace chatscale::bench {
namespace {

constexpr std::size_t kMaxErrorBody = 300;

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The value of the first `field:` line of an SSE event block ("" when absent).
std::string_view field_of(std::string_view block, std::string_view field) {
  std::size_t at = 0;
  while (at < block.size()) {
    std::size_t end = block.find('\n', at);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (starts_with(line, field) && line.size() > field.size() && line[field.size()] == ':') {
      std::string_view value = line.substr(field.size() + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
    at = end + 1;
  }
  return {};
}

}  // namespace

std::string describe(const beast::error_code& ec) { return ec.category().name() + std::string(": ") + ec.message(); }

// ---- SseScanner ----------------------------------------------------------------------------------

void SseScanner::feed(std::string_view bytes, const std::function<void(SseEvent)>& on_event) {
  pending_.append(bytes);
  std::size_t start = 0;
  for (;;) {
    // The server ends lines with LF; a blank line ends an event.
    std::size_t end = pending_.find("\n\n", start);
    if (end == std::string::npos) break;
    on_event(classify(std::string_view(pending_).substr(start, end - start)));
    start = end + 2;
  }
  pending_.erase(0, start);
}

SseEvent SseScanner::classify(std::string_view block) const {
  std::string_view data = field_of(block, "data");
  if (format_ == StreamFormat::kChatscale) {
    std::string_view event = field_of(block, "event");
    if (event == "delta") return SseEvent::kDelta;
    if (event == "done") return data.find("\"error\":") != std::string_view::npos ? SseEvent::kDoneWithError : SseEvent::kDone;
    return SseEvent::kOther;
  }
  if (data.empty()) return SseEvent::kOther;
  if (data == "[DONE]") return SseEvent::kDone;
  if (data.find("\"error\":") != std::string_view::npos && data.find("\"choices\"") == std::string_view::npos)
    return SseEvent::kDoneWithError;
  std::size_t content = data.find("\"content\":\"");
  if (content != std::string_view::npos && content + 11 < data.size() && data[content + 11] != '"') return SseEvent::kDelta;
  return SseEvent::kOther;
}

// ---- Connection ----------------------------------------------------------------------------------

Connection::Connection(net::any_io_executor executor) : stream_(std::move(executor)) {}

net::awaitable<beast::error_code> Connection::connect(tcp::endpoint server, net::ip::address source) {
  beast::error_code ec;
  auto& socket = stream_.socket();
  socket.open(server.protocol(), ec);
  if (!ec && !source.is_unspecified()) socket.bind(tcp::endpoint(source, 0), ec);
  if (ec) co_return ec;
  arm(std::chrono::seconds(10));
  co_await stream_.async_connect(server, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ec;
  socket.set_option(tcp::no_delay(true), ec);
  host_ = server.address().to_string() + ":" + std::to_string(server.port());
  reusable_ = true;
  co_return ec;
}

void Connection::close() {
  reusable_ = false;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void Connection::arm(std::chrono::milliseconds timeout) {
  if (timeout.count() > 0) stream_.expires_after(timeout);
  else stream_.expires_never();
}

http::request<http::string_body> Connection::make_request(http::verb verb, std::string target, std::string body,
                                                          const std::string& bearer) {
  http::request<http::string_body> req{verb, std::move(target), 11};
  ++uses_;
  req.set(http::field::host, host_);
  req.set(http::field::user_agent, "chatscale_loadgen");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

net::awaitable<HttpResult> Connection::request(http::verb verb, std::string target, std::string body,
                                               const std::string& bearer, std::chrono::milliseconds timeout) {
  HttpResult result;
  auto req = make_request(verb, std::move(target), std::move(body), bearer);
  beast::error_code ec;
  arm(timeout);
  co_await http::async_write(stream_, req, net::redirect_error(net::use_awaitable, ec));
  http::response_parser<http::string_body> parser;
  parser.body_limit(8 << 20);
  if (!ec) co_await http::async_read(stream_, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    reusable_ = false;
    result.error = describe(ec);
    co_return result;
  }
  auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = std::move(res.body());
  reusable_ = res.keep_alive();
  co_return result;
}

net::awaitable<StreamResult> Connection::stream(std::string target, std::string body, const std::string& bearer,
                                                StreamFormat format, std::chrono::milliseconds idle_timeout,
                                                const StreamHooks& hooks) {
  StreamResult result;
  auto req = make_request(http::verb::post, std::move(target), std::move(body), bearer);
  req.set(http::field::accept, "text/event-stream");
  beast::error_code ec;
  arm(idle_timeout);
  co_await http::async_write(stream_, req, net::redirect_error(net::use_awaitable, ec));
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares `len_ > body_limit_` with the optional, and any length is
  // greater than an empty optional, so every Content-Length body would fail with body_limit.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!ec) co_await http::async_read_header(stream_, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    reusable_ = false;
    result.error = describe(ec);
    co_return result;
  }
  result.status = static_cast<int>(parser.get().result_int());
  result.headers_at = SteadyClock::now();
  if (result.status == 200 && hooks.on_headers) {
    auto id = parser.get().find("x-chatscale-message-id");
    hooks.on_headers(id == parser.get().end() ? std::string_view() : std::string_view(id->value().data(), id->value().size()));
  }
  co_await read_stream_body(parser, result, format, idle_timeout, hooks);
  co_return result;
}

net::awaitable<void> Connection::read_stream_body(http::response_parser<http::buffer_body>& parser,
                                                  StreamResult& result, StreamFormat format,
                                                  std::chrono::milliseconds idle_timeout, const StreamHooks& hooks) {
  SseScanner scanner(format);
  std::string error_body;
  auto on_event = [&](SseEvent event) {
    if (event == SseEvent::kDelta) {
      if (!result.first_delta_at) result.first_delta_at = SteadyClock::now();
      ++result.deltas;
      if (hooks.on_delta) hooks.on_delta();
    } else if (event == SseEvent::kDone || event == SseEvent::kDoneWithError) {
      if (!result.done_at) result.done_at = SteadyClock::now();
      result.done_error = result.done_error || event == SseEvent::kDoneWithError;
    }
  };
  std::array<char, 16384> chunk;
  beast::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    arm(idle_timeout);
    co_await http::async_read_some(stream_, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (result.status == 200) scanner.feed(got, on_event);
    else if (error_body.size() < kMaxErrorBody) error_body.append(got.substr(0, kMaxErrorBody - error_body.size()));
    if (ec) break;
  }
  if (ec) {
    reusable_ = false;
    result.error = describe(ec);
  } else {
    reusable_ = parser.get().keep_alive();
    if (result.status != 200) result.error = error_body;
  }
}

// ---- ConnectionPool ------------------------------------------------------------------------------

ConnectionPool::ConnectionPool(net::io_context& ioc, tcp::endpoint server, std::size_t max_open)
    : ioc_(ioc), server_(server), max_open_(max_open) {}

net::awaitable<std::unique_ptr<Connection>> ConnectionPool::acquire(SteadyTime deadline, std::string& error) {
  for (;;) {
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());  // the most recently used: warm in every cache
      idle_.pop_back();
      co_return connection;
    }
    if (open_ < max_open_) {
      ++open_;
      ++opened_total_;
      auto connection = std::make_unique<Connection>(ioc_.get_executor());
      beast::error_code ec = co_await connection->connect(server_, {});
      if (!ec) co_return connection;
      --open_;
      error = "connect: " + describe(ec);
      co_return nullptr;
    }
    if (SteadyClock::now() >= deadline) {
      error = "no connection free before the deadline";
      co_return nullptr;
    }
    auto waiter = std::make_shared<net::steady_timer>(ioc_, deadline);
    waiters_.push_back(waiter);
    beast::error_code ignored;
    co_await waiter->async_wait(net::redirect_error(net::use_awaitable, ignored));
  }
}

void ConnectionPool::release(std::unique_ptr<Connection> connection) {
  if (connection && connection->reusable()) {
    idle_.push_back(std::move(connection));
  } else {
    if (connection) connection->close();
    --open_;
  }
  while (!waiters_.empty()) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (waiter->cancel() > 0) break;  // woke one that was still waiting
  }
}

net::awaitable<std::size_t> ConnectionPool::prefill(std::size_t n) {
  std::string error;
  std::vector<std::unique_ptr<Connection>> opened;
  while (open_ < std::min(n, max_open_)) {
    auto connection = co_await acquire(SteadyClock::now() + std::chrono::seconds(10), error);
    if (!connection) break;
    opened.push_back(std::move(connection));
  }
  for (auto& connection : opened) release(std::move(connection));
  co_return idle_.size();
}

void ConnectionPool::close_idle() {
  for (auto& connection : idle_) connection->close();
  open_ -= idle_.size();
  idle_.clear();
}

}  // namespace chatscale::bench
