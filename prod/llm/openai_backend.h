// OpenAiBackend: the inference port over an OpenAI-compatible HTTP upstream (vLLM, llama.cpp server,
// a future engine of ours). Plain HTTP/1.1 only: an https:// URL is refused by create() (put the
// upstream on a private network or behind a local TLS-terminating proxy). One TCP connection per
// generation (no keep-alive pool yet).
//
// start() runs inside the caller's task (prod/runtime/task.h; outside a task it returns
// FailedPrecondition) and suspends it for the network: connect (connect_timeout_s), send
// `POST {url}/v1/chat/completions` with stream: true, stream_options.include_usage, the messages,
// max_tokens, temperature, and top_p (when below 1), seed and stop (when given), then wait for the
// status line and headers (response_timeout_s, or the request's deadline when sooner). It returns
// only once they arrived, so every upstream refusal comes back before the first token and the caller
// can try another backend:
//   connect failure, bad HTTP, no event stream, 429, 5xx -> Unavailable; 400/413/422 -> InvalidArgument;
//   404 -> NotFound (unknown model); 401/403 -> Internal (our credentials are wrong); 408, 504 and
//   timeouts -> DeadlineExceeded; anything else -> Internal. Messages name the backend and quote
//   the upstream's error message when it sent one.
// The stream's next(deadline) reads and parses the SSE body (OpenAiStreamParser): kDelta per content
// piece, kDone with usage and finish reason, kError (Unavailable) for malformed chunks or a dropped
// connection. When the deadline (absolute, on the backend's clock) passes first it returns
// DeadlineExceeded and leaves the read in flight: nothing is lost and the stream may be read again.
//
// Health: start_health_checks() spawns a task on the given io_context that sends
// `GET {url}{health_path}` every health_interval_s (<= 0: no checks); a 2xx status (each step, connect,
// send and response head, within connect_timeout_s) marks the backend healthy, anything else unhealthy, as load().healthy reports (healthy until the
// first check fails; always healthy without checks). stop() ends the task promptly.
//
// Ownership: the backend borrows the clock; streams borrow the backend (it must outlive them). The
// health task owns its own state and may outlive the backend briefly; stop() (also run by the
// destructor) must be called while the io_context given to start_health_checks still exists.
// Thread-safety: start(), load(), name() and stop() may be called from any task or thread. A stream
// belongs to the task that started it: next() from another task returns FailedPrecondition, and
// cancel() and destruction must happen on that task too (the message service does all three there).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ports/clock.h"
#include "ports/inference.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace chatscale {
namespace openai_detail {
struct HealthState;  // the health task's shared state, in openai_backend.cc
}  // namespace openai_detail

struct OpenAiBackendConfig {
  std::string name;
  std::string url;                   // "http://host:port" with an optional path prefix ("/api")
  std::string model;                 // upstream model name; empty: the request's model
  std::string api_key;               // sent as "Authorization: Bearer ..."; empty: no header
  std::string region;
  std::int64_t max_in_flight = 0;    // open streams; beyond it start() returns Unavailable; 0 = unbounded
  double connect_timeout_s = 5;      // connect and send; also a health check's whole exchange
  double response_timeout_s = 60;    // request sent -> status line and headers
  double health_interval_s = 5;      // <= 0: no health checks
  std::string health_path = "/v1/models";
};

// A parsed upstream URL: http://host[:port][/prefix]. The prefix has no trailing slash.
struct UpstreamUrl {
  std::string host;         // without IPv6 brackets
  std::string port;         // "80" when absent
  std::string path_prefix;  // "" or "/api"
  std::string host_header;  // "host:port" as sent in Host
};

// InvalidArgument for anything but http://host[:port][/path] (https is named as unsupported).
Result<UpstreamUrl> parse_upstream_url(std::string_view url);

class OpenAiBackend : public InferenceBackend {
 public:
  // Checks the configuration (name, URL, timeouts) and builds the backend; InvalidArgument otherwise.
  static Result<std::unique_ptr<OpenAiBackend>> create(Clock& clock, OpenAiBackendConfig config);
  ~OpenAiBackend() override;
  OpenAiBackend(const OpenAiBackend&) = delete;
  OpenAiBackend& operator=(const OpenAiBackend&) = delete;

  const std::string& name() const override { return config_.name; }
  // healthy: the last health check (true without checks); in_flight: streams open or being opened;
  // capacity: max_in_flight (0 = unknown).
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  // Spawns the health-check task on `ioc` (once; later calls do nothing). Not a task itself.
  void start_health_checks(boost::asio::io_context& ioc);
  // Ends the health-check task: its wait and any check in progress are cancelled. Idempotent.
  void stop();

  const OpenAiBackendConfig& config() const { return config_; }
  const UpstreamUrl& upstream() const { return url_; }
  std::int64_t in_flight() const { return in_flight_.load(); }
  std::int64_t health_checks() const;  // checks completed so far (tests poll this)

 private:
  friend class OpenAiStream;

  OpenAiBackend(Clock& clock, OpenAiBackendConfig config, UpstreamUrl url);
  bool acquire_slot();
  void release_slot() { in_flight_.fetch_sub(1); }

  Clock& clock_;
  const OpenAiBackendConfig config_;
  const UpstreamUrl url_;
  std::atomic<std::int64_t> in_flight_{0};
  std::shared_ptr<openai_detail::HealthState> health_;
};

}  // namespace chatscale
