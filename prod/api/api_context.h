// Everything the API handlers work with, gathered once by the serve command (or a test) and borrowed
// by every handler: clock, blocking pool, stores, credentials, the rate limiter, the shared message
// service with its generation hub, the OpenAI-compatible completion flow, metrics and probes.
//
// Ownership: borrows everything; the owner (serve_command, a test fixture) keeps it alive while the
// routes may run. Thread-safety: every member is itself safe to use from many tasks at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "core/status.h"
#include "ports/clock.h"
#include "ports/metrics_sink.h"
#include "ports/password_hasher.h"
#include "ports/stores.h"
#include "prod/auth/auth_limiter.h"
#include "ratelimit/rate_limiter.h"
#include "service/message_service.h"

namespace chatscale {
class BlockingPool;
}

namespace chatscale::api {

class GenerationHub;
class CompletionFlow;
class CancelRegistry;

struct ApiStores {
  UserStore& users;
  ConversationStore& conversations;
  MessageStore& messages;
  ApiKeyStore& api_keys;
  RefreshTokenStore& refresh_tokens;
};

struct ApiOptions {
  double access_token_ttl_s = 15 * 60;
  double refresh_token_ttl_s = 30 * 24 * 3600;
  std::size_t max_body_bytes = 1 << 20;   // JSON bodies (the server enforces its own limit first)
  int default_page_size = 50;
  int max_page_size = 200;
  double stop_wait_s = 10;                // POST .../stop waits this long for the partial answer
  double heartbeat_interval_s = 15;       // a subscriber's comment when nothing came for this long
  // A generation running on another instance: resume follows its stored row on the primary, polling
  // this often, for at most remote_follow_s; stop writes a stop request and polls for the end.
  double remote_poll_s = 0.25;
  double remote_follow_s = 600;
  std::size_t max_title_bytes = 256;
  std::size_t max_api_keys_per_user = 20;
  std::size_t max_completion_messages = 1000;  // turns in one /v1/chat/completions request
  auth::AuthLimits auth_limits;           // per-address and per-account limits on login and register
};

struct ApiContext {
  Clock& clock;
  BlockingPool& blocking;          // argon2id hashing runs here, never on an I/O thread
  ApiStores stores;
  PasswordHasher& passwords;
  const JwtCodec& jwt;
  const ApiKeyHasher& api_key_hasher;
  RateLimiter& rate_limiter;
  RateLimitStore& rate_limit_store;  // the limiter's store; the auth routes' limits share it
  MessageService& messages;        // the shared flow (conversations)
  GenerationHub& hub;              // owns running generations
  CompletionFlow& completions;     // the same flow over a throwaway conversation (OpenAI API)
  CancelRegistry& cancel_registry; // what the backends' CancellableBackend wrappers watch
  MetricsSink& metrics;
  // /readyz: OK when the database answers and a backend is healthy, else why not.
  std::function<Status()> readiness;
  // /metrics: the Prometheus text exposition (format 0.0.4).
  std::function<std::string()> metrics_text;
  ApiOptions options;
};

}  // namespace chatscale::api
