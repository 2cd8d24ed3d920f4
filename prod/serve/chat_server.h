// ChatServer: the whole `chatscale serve` process assembled from a ServeConfig: real clock, blocking
// pool, Prometheus metrics ("prod"), stores (PostgreSQL primary + replicas with contents encrypted at
// rest, or the in-memory MemoryStore without `database`), rate-limit
// state (in process, or Redis), argon2id, JWT and API-key secrets, inference backends (synthetic,
// OpenAI-compatible upstreams) each wrapped in a CancellableBackend, the shared MessageService, the
// generation hub, the OpenAI-compatible completion flow, the API routes and the HTTP server.
//
//   auto server = ChatServer::create(config, std::cerr);   // builds; prints notices (never secrets)
//   server->start();                                        // binds; port() is known from here
//   server->run();                                          // serves until shutdown() has drained
//
// Shutdown: shutdown(graceful) may be called from any thread (serve_command's SIGINT/SIGTERM handler
// does). Graceful: no new connections or generations; streams in flight go on for up to
// limits.drain_timeout_s, after which running generations are cancelled (their partial answers are
// stored) and the rest is closed; run() returns once every task has ended. A second call stops at once.
//
// Ownership: owns everything it builds. Thread-safety: create/start/run from one thread; shutdown()
// and the accessors from any thread. Failure behaviour: create() and start() return a Status (bad
// secret, Redis unreachable, port in use, unreadable TLS files); nothing throws afterwards.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "core/status.h"
#include "ports/inference.h"
#include "ports/password_hasher.h"
#include "ports/stores.h"
#include "ports/tokenizer.h"
#include "prod/api/api_context.h"
#include "prod/api/cancellable_backend.h"
#include "prod/api/completion_flow.h"
#include "prod/api/generation_hub.h"
#include "prod/http/http_server.h"
#include "prod/http/router.h"
#include "prod/metrics/prometheus_metrics.h"
#include "prod/runtime/blocking_pool.h"
#include "prod/runtime/real_clock.h"
#include "prod/serve/serve_config.h"
#include "ratelimit/rate_limiter.h"
#include "service/message_service.h"

namespace chatscale::testing {
class MemoryStore;
}
namespace chatscale::db {
class PgDatabase;
class PgStores;
}

namespace chatscale::serve {

class ChatServer {
 public:
  static Result<std::unique_ptr<ChatServer>> create(ServeConfig config, std::ostream& notices);
  ~ChatServer();
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  Status start();
  int port() const { return server_->port(); }
  const std::string& host() const { return config_.listen.host; }
  void run();
  void shutdown(bool graceful = true);

  api::GenerationHub& hub() { return *hub_; }
  PrometheusMetrics& metrics() { return metrics_; }
  const ServeConfig& config() const { return config_; }

 private:
  ChatServer(ServeConfig config, std::ostream& notices);
  Status build_stores();
  Status build_pg_stores();
  Status build_rate_limits();
  Status build_credentials();
  Status build_backends();
  void build_service();
  Status readiness() const;
  void drain();  // the graceful shutdown, as a task on the server's io_context
  // With PostgreSQL: at start and then periodically, answers left streaming by a dead instance are
  // marked partial (a task on the server's io_context, until the backends stop).
  void end_stale_answers();

  ServeConfig config_;
  std::ostream& notices_;
  RealClock clock_;
  BlockingPool pool_;
  PrometheusMetrics metrics_{"prod"};
  ApproximateTokenizer tokenizer_;

  std::unique_ptr<db::PgDatabase> database_;  // with `database`: PostgreSQL primary and replicas
  std::unique_ptr<db::PgStores> pg_stores_;
  std::unique_ptr<testing::MemoryStore> memory_store_;  // without: in memory, not durable
  UserStore* users_ = nullptr;
  ConversationStore* conversations_ = nullptr;
  MessageStore* messages_ = nullptr;
  UsageStore* usage_ = nullptr;
  ApiKeyStore* api_keys_ = nullptr;
  RefreshTokenStore* refresh_tokens_ = nullptr;

  std::unique_ptr<RateLimitStore> rate_store_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<PasswordHasher> passwords_;
  std::optional<JwtCodec> jwt_;
  std::optional<ApiKeyHasher> api_key_hasher_;

  // The router outlives the server, which owns the io_context every task below runs on.
  http::Router router_;
  std::unique_ptr<http::HttpServer> server_;

  std::vector<std::unique_ptr<InferenceBackend>> backends_;        // synthetic and upstream backends
  std::vector<std::function<void()>> backend_stops_;               // health-check tasks to end
  api::CancelRegistry cancel_registry_;
  std::vector<std::unique_ptr<api::CancellableBackend>> wrapped_;  // what the flows see
  std::unique_ptr<MessageService> service_;
  std::unique_ptr<api::GenerationHub> hub_;
  std::unique_ptr<api::CompletionFlow> completions_;
  std::unique_ptr<api::ApiContext> ctx_;
  std::atomic<int> shutdowns_{0};
  std::atomic<bool> sweeper_stop_{false};
};

}  // namespace chatscale::serve
