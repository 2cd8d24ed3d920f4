// Test support for the API handlers: a fake ResponseWriter that records what a handler wrote (and can
// play a client that disconnects after N writes), an SSE parser, a runner of tasks on a real
// io_context, and ApiHarness: the real handlers, router, generation hub and shared message service
// over in-memory stores (MemoryStore), FakeInferenceBackend, FakePasswordHasher and the real clock.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "ports/tokenizer.h"
#include "prod/api/api_context.h"
#include "prod/api/api_routes.h"
#include "prod/api/cancellable_backend.h"
#include "prod/api/completion_flow.h"
#include "prod/api/generation_hub.h"
#include "prod/http/http_types.h"
#include "prod/http/router.h"
#include "prod/runtime/blocking_pool.h"
#include "prod/runtime/real_clock.h"
#include "ratelimit/memory_rate_limit_store.h"
#include "ratelimit/rate_limiter.h"
#include "service/message_service.h"
#include "testing/fake_inference.h"
#include "testing/fake_password_hasher.h"
#include "testing/memory_metrics.h"
#include "testing/memory_stores.h"

namespace chatscale::api::test {

class FakeWriter : public http::ResponseWriter {
 public:
  // disconnect_after_writes >= 0: write() number N+1 and later fail, as for a client that has gone.
  explicit FakeWriter(int disconnect_after_writes = -1) : disconnect_after_(disconnect_after_writes) {}

  bool respond(const http::HttpResponse& response) override;
  bool begin_stream(const http::HttpResponse& head) override;
  bool write(std::string_view bytes) override;
  void end_stream() override { ended_ = true; }
  bool started() const override { return head_.has_value(); }
  bool client_gone() const override { return gone_; }

  const std::optional<http::HttpResponse>& head() const { return head_; }
  const std::string& body() const { return body_; }
  bool streamed() const { return streamed_; }
  bool ended() const { return ended_; }
  int responses() const { return responses_; }

 private:
  int disconnect_after_;
  std::optional<http::HttpResponse> head_;
  std::string body_;
  bool streamed_ = false;
  bool ended_ = false;
  bool gone_ = false;
  int writes_ = 0;
  int responses_ = 0;
};

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
  nlohmann::json json() const;  // data parsed (null when it is not JSON)
};
struct SseStream {
  std::vector<SseEvent> events;
  int comments = 0;
};
SseStream parse_sse(const std::string& body);

// An io_context run by `threads` threads until destroyed; run() executes a function as a task there
// and waits for it.
class TaskRunner {
 public:
  explicit TaskRunner(int threads = 2);
  ~TaskRunner();
  void run(const std::function<void()>& fn);
  void stop();
  boost::asio::io_context& ioc() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// What a handler answered.
struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the response body, or the streamed bytes
  bool streamed = false;
  bool ended = false;
  std::optional<std::string> header(std::string_view name) const;
  nlohmann::json json() const;  // body parsed (null when it is not JSON)
  SseStream sse() const { return parse_sse(body); }
};

struct HarnessOptions {
  std::vector<Tier> tiers = {Tier{"free", 1000, 1'000'000, 8, 0, 0, 0}, Tier{"plus", 1000, 1'000'000, 8, 0, 0, 1}};
  testing::FakeScript script = fast_script();
  MessageServiceConfig service = service_config();
  HubConfig hub;
  bool hub_polls_stops = false;  // hub.stop_requests = the harness's store (stops from "another instance")
  ApiOptions api = api_options();

  static testing::FakeScript fast_script();
  // The defaults with the auth routes' per-address limits off (every call comes from 127.0.0.1);
  // the tests of those limits set them.
  static ApiOptions api_options();
  static MessageServiceConfig service_config();
};

class ApiHarness {
 public:
  explicit ApiHarness(HarnessOptions options = {});
  ~ApiHarness();

  // Runs the routed handler in a task, as the server would.
  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}, int disconnect_after_writes = -1);
  Reply call_as(const std::string& token, const std::string& method, const std::string& target,
                const std::string& body = "", std::vector<std::pair<std::string, std::string>> headers = {},
                int disconnect_after_writes = -1);

  // Registers an account and returns its access token.
  std::string register_user(const std::string& email, const std::string& password = "correct horse battery");
  std::string user_id_of(const std::string& email);
  std::string create_conversation(const std::string& token, const std::string& title = "chat");
  // Polls (with a deadline) until the hub runs no generation.
  bool wait_idle(double seconds = 10);

  HarnessOptions options;
  RealClock clock;
  BlockingPool pool{2};
  testing::MemoryStore store;
  testing::FakePasswordHasher hasher;
  JwtCodec jwt;
  ApiKeyHasher api_keys;
  MemoryRateLimitStore rate_store{clock};
  RateLimiter limiter;
  testing::MemoryMetrics metrics;
  ApproximateTokenizer tokenizer;
  testing::FakeInferenceBackend backend;
  CancelRegistry registry;
  CancellableBackend cancellable;
  MessageService service;
  TaskRunner runner;
  GenerationHub hub;
  CompletionFlow completions;
  ApiContext ctx;
  Routes routes;
  http::Router router;
};

inline constexpr const char* kJwtSecret = "0123456789abcdef0123456789abcdef-test-secret";

}  // namespace chatscale::api::test
