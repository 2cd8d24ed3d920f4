#include "prod/llm/openai_backend.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "prod/llm/openai_stream_parser.h"
#include "prod/runtime/task.h"

namespace chatscale {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr double kMaxWaitSeconds = 24 * 3600.0;  // "no deadline" waits are taken in slices of a day
constexpr double kErrorBodyTimeoutS = 2.0;
constexpr std::size_t kErrorBodyBytes = 4096;
constexpr std::size_t kReadChunkBytes = 16 * 1024;
constexpr std::size_t kMaxQuotedBytes = 300;

std::chrono::steady_clock::duration duration_of(double seconds) {
  double s = std::clamp(seconds, 0.0, kMaxWaitSeconds);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

bool contains_ci(std::string_view s, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= s.size(); ++i)
    if (starts_with_ci(s.substr(i), needle)) return true;
  return false;
}

std::string quote(std::string_view s) {
  std::string out(s.substr(0, kMaxQuotedBytes));
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s.size() > kMaxQuotedBytes ? out + "..." : out;
}

// Runs a function when the scope ends, unwinding included (a destroyed coroutine unwinds its stack).
template <typename F>
struct ScopeExit {
  F f;
  ~ScopeExit() { f(); }
};
template <typename F>
ScopeExit(F) -> ScopeExit<F>;

// The upstream's own words from an error body: OpenAI's {"error": {"message"}}, FastAPI's {"detail"},
// {"message"}, or the text itself.
std::string error_detail(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object()) {
    auto error = j.find("error");
    if (error != j.end() && error->is_object()) {
      auto message = error->find("message");
      if (message != error->end() && message->is_string()) return quote(message->get<std::string>());
    }
    if (error != j.end() && error->is_string()) return quote(error->get<std::string>());
    for (const char* key : {"message", "detail"}) {
      auto it = j.find(key);
      if (it != j.end() && it->is_string()) return quote(it->get<std::string>());
    }
  }
  return quote(body);
}

Status map_http_error(int code, const std::string& name, std::string_view detail) {
  std::string m = "upstream " + name + " answered HTTP " + std::to_string(code);
  if (!detail.empty()) m += ": " + std::string(detail);
  if (code == 408 || code == 504) return deadline_exceeded(std::move(m));
  if (code == 429 || code >= 500) return unavailable(std::move(m));
  if (code == 400 || code == 413 || code == 422) return invalid_argument(std::move(m));
  if (code == 404) return not_found(std::move(m));
  return internal_error(std::move(m));  // 401/403 (our credentials), other statuses
}

std::uint16_t port_number(const UpstreamUrl& url) {
  unsigned value = 0;
  std::from_chars(url.port.data(), url.port.data() + url.port.size(), value);
  return static_cast<std::uint16_t>(value);
}

// Resolves (numeric hosts skip the resolver) and connects within the timeout.
Status connect_upstream(beast::tcp_stream& stream, const UpstreamUrl& url, double timeout_s, const TaskYield& yield,
                        const std::string& name) {
  beast::error_code ec;
  stream.expires_after(duration_of(timeout_s));
  auto address = net::ip::make_address(url.host, ec);
  if (!ec) {
    stream.async_connect(tcp::endpoint(address, port_number(url)), yield[ec]);
  } else {
    tcp::resolver resolver(stream.get_executor());
    auto endpoints = resolver.async_resolve(url.host, url.port, yield[ec]);
    if (ec) return unavailable("upstream " + name + ": cannot resolve " + url.host + ": " + ec.message());
    stream.async_connect(endpoints, yield[ec]);
  }
  if (ec == beast::error::timeout) return unavailable("upstream " + name + ": connect to " + url.host_header + " timed out");
  if (ec) return unavailable("upstream " + name + ": connect to " + url.host_header + ": " + ec.message());
  return Status::ok();
}

template <typename Body>
void set_common_headers(http::request<Body>& req, const OpenAiBackendConfig& config, const UpstreamUrl& url) {
  req.set(http::field::host, url.host_header);
  req.set(http::field::user_agent, "chatscale");
  if (!config.api_key.empty()) req.set(http::field::authorization, "Bearer " + config.api_key);
  req.keep_alive(false);  // one connection per generation
}

std::string chat_request_body(const OpenAiBackendConfig& config, const InferenceRequest& request) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& turn : request.messages)
    messages.push_back(nlohmann::json{{"role", std::string(role_name(turn.role))}, {"content", turn.content}});
  nlohmann::json body = {{"model", config.model.empty() ? request.model : config.model},
                         {"messages", std::move(messages)},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}},
                         {"temperature", request.temperature}};
  if (request.max_tokens > 0) body["max_tokens"] = request.max_tokens;
  if (request.top_p < 1.0) body["top_p"] = request.top_p;
  if (request.seed) body["seed"] = *request.seed;
  if (!request.stop.empty()) body["stop"] = request.stop;
  // Invalid UTF-8 in a message is replaced (U+FFFD) rather than thrown on.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// ---- URL ----------------------------------------------------------------------------------------

Result<UpstreamUrl> parse_upstream_url(std::string_view url) {
  auto bad = [&](std::string why) { return invalid_argument("url \"" + std::string(url) + "\": " + why); };
  constexpr std::string_view kScheme = "http://";
  if (starts_with_ci(url, "https://"))
    return bad("https upstreams are not supported; use http:// on a private network or a local TLS proxy");
  if (!starts_with_ci(url, kScheme)) return bad("must start with http://");
  std::string_view rest = url.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (path.find_first_of("?# ") != std::string_view::npos) return bad("no query, fragment or space allowed");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) return bad("no user info allowed (use api_key)");
  UpstreamUrl out;
  std::string_view port;
  bool ipv6 = !authority.empty() && authority.front() == '[';
  if (ipv6) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("unexpected text after the host");
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return bad("empty port");
  } else {
    std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("port must be a number from 1 to 65535");
  }
  out.port = port.empty() ? "80" : std::string(port);
  out.path_prefix = std::string(path);
  out.host_header = (ipv6 ? "[" + out.host + "]" : out.host) + (port.empty() ? "" : ":" + out.port);
  return out;
}

// ---- Streams ------------------------------------------------------------------------------------

namespace {

// A generation's connection. Shared between the stream and the completion handler of a read in
// flight, so a stream may be destroyed while a read is pending. Touched only on the owning task's
// strand (the socket and timer run their handlers there).
struct StreamIo {
  explicit StreamIo(const TaskStrand& strand) : socket(strand), wake(strand), body(kReadChunkBytes) {}

  beast::tcp_stream socket;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  net::steady_timer wake;  // next() sleeps on it; a completed read cancels it
  std::vector<char> body;  // where the parser puts body bytes
  bool read_pending = false;
  bool read_done = false;  // a completed read waits to be taken
  beast::error_code read_error;
};

// Reads what there is of an error response's body, briefly.
std::string read_error_body(StreamIo& io, const TaskYield& yield) {
  std::string out;
  std::array<char, 1024> piece{};
  io.socket.expires_after(duration_of(kErrorBodyTimeoutS));
  while (!io.parser.is_done() && out.size() < kErrorBodyBytes) {
    io.parser.get().body().data = piece.data();
    io.parser.get().body().size = piece.size();
    beast::error_code ec;
    http::async_read_some(io.socket, io.buffer, io.parser, yield[ec]);
    out.append(piece.data(), piece.size() - io.parser.get().body().size);
    if (ec && ec != http::error::need_buffer) break;
  }
  io.parser.get().body().data = nullptr;
  return out;
}

// Waits for the status line and headers; refusals become the mapped Status.
Status read_response_head(StreamIo& io, const std::string& name, double timeout_s, const TaskYield& yield) {
  io.parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // a long answer is a long body
  io.socket.expires_after(duration_of(timeout_s));
  beast::error_code ec;
  http::async_read_header(io.socket, io.buffer, io.parser, yield[ec]);
  if (ec == beast::error::timeout)
    return deadline_exceeded("upstream " + name + " sent no response head within " + std::to_string(timeout_s) + " s");
  if (ec) return unavailable("upstream " + name + " sent no valid HTTP response: " + ec.message());
  int code = io.parser.get().result_int();
  if (code < 200 || code > 299) return map_http_error(code, name, error_detail(read_error_body(io, yield)));
  auto header = io.parser.get()[http::field::content_type];  // a boost::string_view in Boost 1.74
  std::string_view type(header.data(), header.size());
  if (!contains_ci(type, "text/event-stream"))
    return unavailable("upstream " + name + " answered with content type \"" + quote(type) + "\", not an event stream");
  io.socket.expires_never();  // from here on, next() deadlines govern the reads
  return Status::ok();
}

}  // namespace

class OpenAiStream : public InferenceStream {
 public:
  OpenAiStream(OpenAiBackend& backend, std::shared_ptr<StreamIo> io, TaskStrand strand, std::int64_t prompt_tokens)
      : backend_(backend), io_(std::move(io)), strand_(std::move(strand)), parser_(prompt_tokens) {}
  ~OpenAiStream() override { close(); }

  Result<InferenceEvent> next(double deadline) override {
    if (cancelled_) return cancelled("stream from upstream " + backend_.name() + " was cancelled");
    if (closed_) return failed_precondition("stream from upstream " + backend_.name() + " already finished");
    const TaskContext* task = current_task();
    if (task == nullptr || !(*task->executor == strand_))
      return failed_precondition("a stream from upstream " + backend_.name() + " is read by the task that started it");
    while (!parser_.has_event()) {
      if (!io_->read_done) {
        if (!io_->read_pending) start_read();
        if (!wait_for_read(*task, deadline))
          return deadline_exceeded("upstream " + backend_.name() + ": no event before the deadline");
      }
      take_read();
    }
    InferenceEvent event = parser_.pop();
    if (event.kind != InferenceEvent::Kind::kDelta) close();
    return event;
  }

  void cancel() override {
    if (!closed_) cancelled_ = true;
    close();
  }

 private:
  // One read of the body into io_->body; its handler (on the strand) wakes a waiting next().
  void start_read() {
    auto& body = io_->parser.get().body();
    body.data = io_->body.data();
    body.size = io_->body.size();
    io_->read_pending = true;
    http::async_read_some(io_->socket, io_->buffer, io_->parser, [io = io_](beast::error_code ec, std::size_t) {
      io->read_pending = false;
      io->read_done = true;
      io->read_error = ec == http::error::need_buffer ? beast::error_code() : ec;
      io->wake.cancel();
    });
  }

  // Suspends the task until the read completes (true) or the deadline passes (false).
  bool wait_for_read(const TaskContext& task, double deadline) {
    while (!io_->read_done) {
      double left = kMaxWaitSeconds;
      if (deadline > 0) {
        left = deadline - backend_.clock_.now();
        if (left <= 0) return false;
      }
      io_->wake.expires_after(duration_of(left));
      beast::error_code ec;
      io_->wake.async_wait((*task.yield)[ec]);
    }
    return true;
  }

  // Hands the completed read's bytes (and its end or error) to the SSE parser.
  void take_read() {
    io_->read_done = false;
    std::size_t n = io_->body.size() - io_->parser.get().body().size;
    if (n > 0) parser_.feed(std::string_view(io_->body.data(), n));
    if (io_->read_error) {
      parser_.end_of_stream(unavailable(io_->read_error.message()));
    } else if (io_->parser.is_done()) {
      parser_.end_of_stream(Status::ok());
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    io_->socket.socket().shutdown(tcp::socket::shutdown_both, ec);
    io_->socket.close();  // a pending read completes with operation_aborted
    io_->wake.cancel();
    backend_.release_slot();
  }

  OpenAiBackend& backend_;
  std::shared_ptr<StreamIo> io_;
  TaskStrand strand_;
  OpenAiStreamParser parser_;
  bool closed_ = false;
  bool cancelled_ = false;
};

// ---- Health checks ------------------------------------------------------------------------------

namespace openai_detail {

// Shared by the backend and its health task. The atomics are read anywhere; timer and probe point
// at the task's locals while it runs and are touched only on its strand.
struct HealthState {
  std::atomic<bool> healthy{true};
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> checks{0};
  std::mutex mu;
  std::optional<TaskStrand> strand;  // guarded by mu; set while the task runs
  net::steady_timer* timer = nullptr;
  beast::tcp_stream* probe = nullptr;
};

}  // namespace openai_detail

namespace {

using openai_detail::HealthState;

// One check: GET {prefix}{health_path}; healthy on a 2xx status line.
bool probe_health(HealthState& health, const OpenAiBackendConfig& config, const UpstreamUrl& url,
                  const TaskContext& task) {
  beast::tcp_stream stream(*task.executor);
  health.probe = &stream;
  ScopeExit clear{[&] { health.probe = nullptr; }};
  if (!connect_upstream(stream, url, config.connect_timeout_s, *task.yield, config.name).is_ok()) return false;
  http::request<http::empty_body> req{http::verb::get, url.path_prefix + config.health_path, 11};
  set_common_headers(req, config, url);
  beast::error_code ec;
  stream.expires_after(duration_of(config.connect_timeout_s));
  http::async_write(stream, req, (*task.yield)[ec]);
  if (ec) return false;
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  stream.expires_after(duration_of(config.connect_timeout_s));
  http::async_read_header(stream, buffer, parser, (*task.yield)[ec]);
  if (ec) return false;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  int code = parser.get().result_int();
  return code >= 200 && code <= 299;
}

void run_health_checks(const std::shared_ptr<HealthState>& health, const OpenAiBackendConfig& config,
                       const UpstreamUrl& url) {
  const TaskContext* task = current_task();
  net::steady_timer timer(*task->executor);
  {
    std::lock_guard lock(health->mu);
    health->strand = *task->executor;
  }
  health->timer = &timer;
  ScopeExit clear{[&] {
    health->timer = nullptr;
    std::lock_guard lock(health->mu);
    health->strand.reset();
  }};
  while (!health->stopping.load()) {
    bool ok = probe_health(*health, config, url, *task);
    if (health->stopping.load()) break;  // a check cut short by stop() says nothing
    health->healthy.store(ok);
    health->checks.fetch_add(1);
    timer.expires_after(duration_of(config.health_interval_s));
    beast::error_code ec;
    timer.async_wait((*task->yield)[ec]);
  }
}

}  // namespace

// ---- Backend ------------------------------------------------------------------------------------

Result<std::unique_ptr<OpenAiBackend>> OpenAiBackend::create(Clock& clock, OpenAiBackendConfig config) {
  std::string where = "backend \"" + config.name + "\": ";
  if (config.name.empty()) return invalid_argument("openai backend: name is required");
  auto url = parse_upstream_url(config.url);
  if (!url.is_ok()) return invalid_argument(where + url.status().message());
  if (config.connect_timeout_s <= 0) return invalid_argument(where + "connect_timeout_s must be positive");
  if (config.response_timeout_s <= 0) return invalid_argument(where + "response_timeout_s must be positive");
  if (config.max_in_flight < 0) return invalid_argument(where + "max_in_flight must be 0 (unbounded) or more");
  if (config.health_path.empty() || config.health_path.front() != '/')
    return invalid_argument(where + "health_path must start with /");
  return std::unique_ptr<OpenAiBackend>(new OpenAiBackend(clock, std::move(config), std::move(url).value()));
}

OpenAiBackend::OpenAiBackend(Clock& clock, OpenAiBackendConfig config, UpstreamUrl url)
    : clock_(clock),
      config_(std::move(config)),
      url_(std::move(url)),
      health_(std::make_shared<openai_detail::HealthState>()) {}

OpenAiBackend::~OpenAiBackend() { stop(); }

BackendLoad OpenAiBackend::load() const {
  return BackendLoad{health_->healthy.load(), in_flight_.load(), config_.max_in_flight, config_.region};
}

std::int64_t OpenAiBackend::health_checks() const { return health_->checks.load(); }

bool OpenAiBackend::acquire_slot() {
  if (config_.max_in_flight <= 0) {
    in_flight_.fetch_add(1);
    return true;
  }
  std::int64_t current = in_flight_.load();
  while (current < config_.max_in_flight) {
    if (in_flight_.compare_exchange_weak(current, current + 1)) return true;
  }
  return false;
}

Result<std::unique_ptr<InferenceStream>> OpenAiBackend::start(const InferenceRequest& request) {
  const TaskContext* task = current_task();
  if (task == nullptr)
    return failed_precondition("upstream " + config_.name + ": start() must run inside a task (spawn_task)");
  if (!acquire_slot())
    return unavailable("upstream " + config_.name + " is full (" + std::to_string(config_.max_in_flight) +
                       " streams in flight)");
  auto io = std::make_shared<StreamIo>(*task->executor);
  double response_timeout = config_.response_timeout_s;
  if (request.deadline > 0) response_timeout = std::min(response_timeout, request.deadline - clock_.now());
  Status status = connect_upstream(io->socket, url_, config_.connect_timeout_s, *task->yield, config_.name);
  if (status.is_ok()) {
    http::request<http::string_body> req{http::verb::post, url_.path_prefix + "/v1/chat/completions", 11};
    set_common_headers(req, config_, url_);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "text/event-stream");
    req.body() = chat_request_body(config_, request);
    req.prepare_payload();
    beast::error_code ec;
    io->socket.expires_after(duration_of(config_.connect_timeout_s));
    http::async_write(io->socket, req, (*task->yield)[ec]);
    if (ec) status = unavailable("upstream " + config_.name + ": sending the request failed: " + ec.message());
  }
  if (status.is_ok()) status = read_response_head(*io, config_.name, response_timeout, *task->yield);
  if (!status.is_ok()) {
    io->socket.close();
    release_slot();
    return status;
  }
  std::unique_ptr<InferenceStream> stream =
      std::make_unique<OpenAiStream>(*this, std::move(io), *task->executor, request.prompt_tokens);
  return stream;
}

void OpenAiBackend::start_health_checks(boost::asio::io_context& ioc) {
  if (config_.health_interval_s <= 0 || health_->started.exchange(true)) return;
  spawn_task(ioc, [health = health_, config = config_, url = url_](TaskYield) { run_health_checks(health, config, url); });
}

void OpenAiBackend::stop() {
  health_->stopping.store(true);
  std::lock_guard lock(health_->mu);
  if (!health_->strand) return;
  // The timer and the probe belong to the task: cancel them on its strand, where the task already
  // started its wait (it held the strand until then), so the cancel cannot be lost.
  net::post(*health_->strand, [health = health_] {
    if (health->timer != nullptr) health->timer->cancel();
    if (health->probe != nullptr) health->probe->cancel();
  });
}

}  // namespace chatscale
