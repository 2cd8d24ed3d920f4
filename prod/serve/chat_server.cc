#include "prod/serve/chat_server.h"

#include <algorithm>
#include <utility>

#include "moderation/moderator.h"
#include "prod/api/api_routes.h"
#include "prod/auth/sodium_password_hasher.h"
#include "prod/db/content_cipher.h"
#include "prod/db/pg_database.h"
#include "prod/db/pg_stores.h"
#include "prod/llm/openai_backend.h"
#include "prod/llm/synthetic_backend.h"
#if defined(CHATSCALE_ENGINE_SERVER)
#include "prod/engine/server/engine_backend.h"
#include "prod/engine/server/engine_runtime.h"
#endif
#include "prod/redis/redis_rate_limit_store.h"
#include "prod/runtime/task.h"
#include "ratelimit/memory_rate_limit_store.h"
#include "testing/memory_stores.h"

namespace chatscale::serve {
namespace {

// The server's connection tasks run the OpenAI-compatible route's message flow (moderation, context
// building, JSON) on their own stacks, so they get more than the HTTP server's default.
constexpr std::size_t kConnectionStackBytes = std::max<std::size_t>(http::kDefaultConnectionStackBytes, 256 * 1024);

http::HttpServerOptions server_options(const ServeConfig& c) {
  http::HttpServerOptions o;
  o.host = c.listen.host;
  o.port = c.listen.port;
  o.io_threads = c.io_threads;
  o.max_header_bytes = static_cast<std::size_t>(c.limits.max_header_bytes);
  o.max_body_bytes = static_cast<std::size_t>(c.limits.max_body_bytes);
  o.read_timeout_s = c.limits.read_timeout_s;
  o.write_timeout_s = c.limits.write_timeout_s;
  o.max_stream_buffer_bytes = static_cast<std::size_t>(c.limits.max_stream_buffer_bytes);
  o.max_connections = static_cast<int>(c.limits.max_connections);
  o.drain_timeout_s = c.limits.drain_timeout_s;
  if (c.tls) {
    o.tls_cert_file = c.tls->cert;
    o.tls_key_file = c.tls->key;
  }
  o.task_stack_bytes = kConnectionStackBytes;
  return o;
}

PwhashLimits hash_limits(PasswordHashCost cost) {
  switch (cost) {
    case PasswordHashCost::kModerate: return PwhashLimits::moderate();
    case PasswordHashCost::kMinimum: return PwhashLimits::minimum();
    case PasswordHashCost::kInteractive: break;
  }
  return PwhashLimits::interactive();
}

}  // namespace

ChatServer::ChatServer(ServeConfig config, std::ostream& notices)
    : config_(std::move(config)), notices_(notices), pool_(config_.blocking_threads) {}

ChatServer::~ChatServer() {
  for (auto& stop : backend_stops_) stop();
}

Result<std::unique_ptr<ChatServer>> ChatServer::create(ServeConfig config, std::ostream& notices) {
  std::unique_ptr<ChatServer> s(new ChatServer(std::move(config), notices));
  CS_RETURN_IF_ERROR(s->build_stores());
  CS_RETURN_IF_ERROR(s->build_rate_limits());
  CS_RETURN_IF_ERROR(s->build_credentials());
  s->server_ = std::make_unique<http::HttpServer>(server_options(s->config_), s->router_);
  CS_RETURN_IF_ERROR(s->build_backends());
  s->build_service();
  return s;
}

Status ChatServer::build_stores() {
  if (config_.database) return build_pg_stores();
  memory_store_ = std::make_unique<testing::MemoryStore>();
  users_ = memory_store_.get();
  conversations_ = memory_store_.get();
  messages_ = memory_store_.get();
  usage_ = memory_store_.get();
  api_keys_ = memory_store_.get();
  refresh_tokens_ = memory_store_.get();
  notices_ << "serve: no database configured: in-memory stores, NOT durable (everything is lost when the "
              "process ends)\n";
  return Status::ok();
}

Status ChatServer::build_pg_stores() {
  const DatabaseConfig& d = *config_.database;
  db::PgConfig pg;
  pg.primary = {d.primary.name, d.primary.dsn, d.primary.region};
  for (const auto& r : d.replicas) pg.replicas.push_back({r.name, r.dsn, r.region});
  pg.pool_size = d.pool_size;
  pg.statement_timeout_ms = d.statement_timeout_ms;
  pg.replica_poll_s = d.replica_poll_ms / 1000.0;
  pg.router.max_lag_seconds = d.max_lag_seconds;
  auto database = db::PgDatabase::open(pg, pool_, clock_, &metrics_);
  if (!database.is_ok()) return Status(database.status().code(), "database: " + database.status().message());
  database_ = std::move(database).value();
  std::vector<db::ContentKey> keys;
  for (const auto& k : config_.secrets.content_keys) keys.push_back({k.id, k.key});
  auto cipher = db::ContentCipher::create(std::move(keys));
  if (!cipher.is_ok()) return Status(cipher.status().code(), "secrets.content_keys: " + cipher.status().message());
  auto stores = db::PgStores::create(*database_, std::move(cipher).value());
  if (!stores.is_ok()) return Status(stores.status().code(), "database: " + stores.status().message());
  pg_stores_ = std::move(stores).value();
  users_ = pg_stores_.get();
  conversations_ = pg_stores_.get();
  messages_ = pg_stores_.get();
  usage_ = pg_stores_.get();
  api_keys_ = pg_stores_.get();
  refresh_tokens_ = pg_stores_.get();
  notices_ << "serve: PostgreSQL primary " << d.primary.name << " and " << d.replicas.size()
           << " read replicas; message contents encrypted at rest with key " << config_.secrets.content_keys.front().id
           << "\n";
  return Status::ok();
}

Status ChatServer::build_rate_limits() {
  if (config_.redis) {
    RedisConfig redis;
    redis.host = config_.redis->host;
    redis.port = config_.redis->port;
    redis.pool_size = config_.redis->pool_size;
    redis.timeout_s = config_.redis->timeout_s;
    redis.key_prefix = config_.redis->key_prefix;
    auto store = RedisRateLimitStore::connect(redis, pool_);
    if (!store.is_ok()) return Status(store.status().code(), "redis: " + store.status().message());
    rate_store_ = std::move(store).value();
    notices_ << "serve: rate limits shared through Redis at " << redis.host << ":" << redis.port << "\n";
  } else {
    rate_store_ = std::make_unique<MemoryRateLimitStore>(clock_);
    notices_ << "serve: no redis configured: rate-limit state in this process only\n";
  }
  limiter_ = std::make_unique<RateLimiter>(*rate_store_, config_.tiers);
  return Status::ok();
}

Status ChatServer::build_credentials() {
  auto hasher = SodiumPasswordHasher::create(hash_limits(config_.auth.password_hash));
  if (!hasher.is_ok()) return hasher.status();
  passwords_ = std::make_unique<SodiumPasswordHasher>(std::move(hasher).value());
  if (config_.auth.password_hash == PasswordHashCost::kMinimum)
    notices_ << "serve: auth.password_hash minimum: password hashes offer no protection (tests only)\n";
  auto jwt = JwtCodec::create(config_.secrets.jwt_secret);
  if (!jwt.is_ok()) return Status(jwt.status().code(), "secrets.jwt_secret: " + jwt.status().message());
  jwt_.emplace(std::move(jwt).value());
  auto keys = ApiKeyHasher::create(config_.secrets.api_key_pepper);
  if (!keys.is_ok()) return Status(keys.status().code(), "secrets.api_key_pepper: " + keys.status().message());
  api_key_hasher_.emplace(std::move(keys).value());
  return Status::ok();
}

// A backend of kind engine: the project's own engine in process (model, CPU or CUDA backend, loop, adapter).
namespace {
Result<std::unique_ptr<InferenceBackend>> make_engine_backend(const BackendConfig& b, Clock& clock, std::ostream& notices) {
#if defined(CHATSCALE_ENGINE_SERVER)
  engine::EngineOptions o;
  o.model_path = b.model;
  o.device = b.device;
  o.threads = static_cast<int>(b.threads);
  o.kv_blocks = b.kv_blocks;
  o.gpu_memory_utilization = b.gpu_memory_utilization;
  o.max_context = b.max_context;
  if (b.max_in_flight > 0) o.max_waiting = b.max_in_flight;
  o.backend.name = b.name;
  o.backend.region = b.region;
  auto runtime = engine::EngineRuntime::create(o, clock);
  if (!runtime.is_ok()) return Status(runtime.status().code(), "backend " + b.name + ": " + runtime.status().message());
  const auto& c = (*runtime)->config();
  notices << "serve: backend " << b.name << ": engine " << b.model << " (" << c.layers << " layers, hidden " << c.hidden
          << ", context " << c.context_length << ") on the " << (*runtime)->backend_text() << ", "
          << (*runtime)->kv_blocks() << " KV blocks of " << (*runtime)->block_size() << " tokens\n";
  return engine::owning_backend(std::move(runtime).value());
#else
  (void)clock;
  (void)notices;
  return invalid_argument("backend " + b.name + ": kind engine is not built into this binary");
#endif
}
}  // namespace

Status ChatServer::build_backends() {
  for (const auto& b : config_.backends) {
    if (b.kind == BackendKind::kSynthetic) {
      SyntheticBackendConfig c;
      c.name = b.name;
      c.region = b.region;
      c.tokens_per_second = b.tokens_per_second;
      c.first_token_ms = b.first_token_ms;
      c.answer_tokens = b.answer_tokens;
      c.max_in_flight = b.max_in_flight;
      c.seed = static_cast<std::uint64_t>(b.seed);
      backends_.push_back(std::make_unique<SyntheticBackend>(clock_, c));
      notices_ << "serve: backend " << b.name
               << ": synthetic backend: generated text for tests and load tests only, not a language model\n";
      continue;
    }
    if (b.kind == BackendKind::kEngine) {
      CS_ASSIGN_OR_RETURN(auto engine_backend, make_engine_backend(b, clock_, notices_));
      backends_.push_back(std::move(engine_backend));
      continue;
    }
    OpenAiBackendConfig c;
    c.name = b.name;
    c.url = b.url;
    c.model = b.model;
    c.api_key = b.api_key;
    c.region = b.region;
    c.max_in_flight = b.max_in_flight;
    c.connect_timeout_s = b.connect_timeout_s;
    c.response_timeout_s = b.response_timeout_s;
    c.health_interval_s = b.health_interval_s;
    c.health_path = b.health_path;
    auto backend = OpenAiBackend::create(clock_, c);
    if (!backend.is_ok()) return Status(backend.status().code(), "backend " + b.name + ": " + backend.status().message());
    OpenAiBackend* raw = backend->get();
    raw->start_health_checks(server_->io_context());
    backend_stops_.push_back([raw] { raw->stop(); });
    backends_.push_back(std::move(backend).value());
    notices_ << "serve: backend " << b.name << ": OpenAI-compatible upstream " << raw->upstream().host_header << "\n";
  }
  return Status::ok();
}

void ChatServer::build_service() {
  std::vector<InferenceBackend*> wrapped;
  for (auto& backend : backends_) {
    wrapped_.push_back(std::make_unique<api::CancellableBackend>(*backend, cancel_registry_, clock_));
    wrapped.push_back(wrapped_.back().get());
  }
  MessageComponents components{*limiter_, Moderator::builtin()};
  service_ = std::make_unique<MessageService>(
      MessagePorts{clock_, *conversations_, *messages_, *usage_, metrics_, tokenizer_, wrapped}, components,
      config_.service);
  api::HubConfig hub;
  hub.grace_s = config_.limits.resume_grace_s;
  if (pg_stores_) {  // several instances may share the database: stops sent to another one reach us
    hub.stop_requests = pg_stores_.get();
    hub.stop_poll_s = config_.service.checkpoint_interval_s;
  }
  hub_ = std::make_unique<api::GenerationHub>(server_->io_context(), clock_, *service_, cancel_registry_, hub);
  completions_ = std::make_unique<api::CompletionFlow>(clock_, *usage_, metrics_, tokenizer_, wrapped, components,
                                                       config_.service);
  api::ApiOptions options;
  options.access_token_ttl_s = config_.auth.access_token_ttl_s;
  options.refresh_token_ttl_s = config_.auth.refresh_token_ttl_s;
  options.max_body_bytes = static_cast<std::size_t>(config_.limits.max_body_bytes);
  options.heartbeat_interval_s = config_.service.heartbeat_interval_s;
  options.auth_limits = auth::AuthLimits{config_.limits.login_per_minute_per_ip,
                                         config_.limits.register_per_minute_per_ip,
                                         config_.limits.login_failures_per_minute_per_account,
                                         config_.limits.trusted_proxies};
  ctx_ = std::unique_ptr<api::ApiContext>(new api::ApiContext{
      clock_, pool_, api::ApiStores{*users_, *conversations_, *messages_, *api_keys_, *refresh_tokens_}, *passwords_, *jwt_,
      *api_key_hasher_, *limiter_, *rate_store_, *service_, *hub_, *completions_, cancel_registry_, metrics_,
      [this] { return readiness(); }, [this] { return metrics_.serialize_text(); }, options});
  api::add_routes(router_, api::all_routes(*ctx_));
}

Status ChatServer::readiness() const {
  if (hub_->draining()) return unavailable("draining: the server is shutting down");
  if (database_) {
    Status reachable = database_->read(ReadOptions{0, 0, true}, "readiness", [](pqxx::transaction_base& tx) {
      tx.exec("SELECT 1");
      return Status::ok();
    });
    if (!reachable.is_ok()) return unavailable("database: " + reachable.message());
  }
  bool healthy = std::any_of(backends_.begin(), backends_.end(), [](const auto& b) { return b->load().healthy; });
  if (!healthy) return unavailable("no healthy inference backend");
  return Status::ok();
}

Status ChatServer::start() {
  CS_RETURN_IF_ERROR(server_->start());
  if (pg_stores_) {
    backend_stops_.push_back([this] { sweeper_stop_ = true; });
    spawn_task(server_->io_context(), [this](TaskYield) { end_stale_answers(); });
  }
  return Status::ok();
}

void ChatServer::end_stale_answers() {
  const double stale_after_s = orphan_after_s(config_.limits, config_.service);
  const double every_s = std::clamp(stale_after_s / 2, 0.5, 30.0);
  double next = clock_.now();  // at once: answers cut short by this instance's previous run
  while (!sweeper_stop_) {
    if (clock_.now() >= next) {
      auto ended = pg_stores_->end_stale_answers(stale_after_s);
      if (!ended.is_ok())
        notices_ << "serve: ending stale answers failed (retrying): " << ended.status().message() << "\n";
      else if (*ended > 0)
        notices_ << "serve: marked " << *ended << " answer(s) left streaming by a stopped instance as partial\n";
      next = clock_.now() + every_s;
    }
    clock_.sleep_for(0.2);
  }
}

void ChatServer::run() { server_->run(); }

void ChatServer::shutdown(bool graceful) {
  int call = shutdowns_.fetch_add(1);
  hub_->begin_drain();
  if (!graceful || call > 0) {
    hub_->cancel_all();
    server_->stop(/*drain=*/false);
    for (auto& stop : backend_stops_) stop();
    return;
  }
  server_->stop(/*drain=*/true);
  spawn_task(server_->io_context(), [this](TaskYield) { drain(); });
}

// Streams may finish on their own within the drain time; what still runs then is cancelled, so its
// partial answer is stored, and the backends' health checks end so that the io_context runs dry.
void ChatServer::drain() {
  double deadline = clock_.now() + config_.limits.drain_timeout_s;
  while (hub_->running() > 0 && clock_.now() < deadline) clock_.sleep_for(0.05);
  if (hub_->running() > 0) {
    notices_ << "serve: drain time is up: cancelling " << hub_->running() << " generations\n";
    hub_->cancel_all();
  }
  double cancel_deadline = clock_.now() + 10;
  while (hub_->running() > 0 && clock_.now() < cancel_deadline) clock_.sleep_for(0.05);
  for (auto& stop : backend_stops_) stop();
}

}  // namespace chatscale::serve
