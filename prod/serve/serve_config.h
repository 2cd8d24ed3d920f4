// serve.yaml: the configuration of `chatscale serve` (the agreed schema, /work/notes/serve-config.md),
// parsed with shared/scenario's YamlReader: every problem is reported at once as
// "file:line: field.path: problem", unknown keys are errors with a did-you-mean, every number is
// range-checked, and secrets come from the file or from environment variables (`*_env` keys name the
// variable; exactly one of the two).
//
// Schema (all sections optional unless marked):
//   listen: {host, port}                 port 0 = any free port
//   io_threads, blocking_threads
//   tls: {cert, key}                     PEM files, checked readable
//   database: {primary: {name, dsn, region}, replicas: [...], pool_size, statement_timeout_ms,
//              replica_poll_ms, max_lag_seconds}   absent = in-memory stores (not durable)
//   redis: {host, port, pool_size, timeout_s, key_prefix}   absent = in-process rate-limit state
//   secrets (required): {jwt_secret | jwt_secret_env: hex, >= 32 bytes;
//                        api_key_pepper | api_key_pepper_env: hex, 32..64 bytes;
//                        content_keys: [{id, key | key_env: base64 of 32 bytes}]  (required with database)}
//   backends (required, >= 1): [{name, kind: synthetic|openai|engine, region, max_in_flight,
//        synthetic: tokens_per_second, first_token_ms, answer_tokens, seed;
//        openai: url, model, api_key | api_key_env, connect_timeout_s, response_timeout_s,
//                health_interval_s, health_path;
//        engine (the project's own engine, in process): model (the GGUF file, required),
//                device (cpu or cuda; cuda needs a CUDA build and a GPU, else start-up fails with
//                the reason), threads (cpu; 0: all cores), kv_blocks (KV cache blocks of 16 tokens;
//                0: sized from the model, on cuda from free device memory), gpu_memory_utilization
//                (cuda: share of the memory left after the weights for the KV cache, default 0.9),
//                max_context (cuda: cap on the served context, default 8192; 0: the model's)}]
//   service: MessageServiceConfig fields (model, system_prompt, context_window_tokens, ...; routing:
//            least_loaded | power_of_two)
//   rate_limits: {<tier>: {requests_per_minute, tokens_per_minute, concurrent, max_output_tokens,
//                          priority}}    absent = free and plus defaults; must define "free"
//   limits: {max_header_bytes, max_body_bytes, read_timeout_s, write_timeout_s,
//            max_stream_buffer_bytes, max_connections, drain_timeout_s, resume_grace_s, orphan_after_s,
//            login_per_minute_per_ip, register_per_minute_per_ip, login_failures_per_minute_per_account,
//            trusted_proxies: "CIDR, CIDR ..."}
//   auth: {access_token_ttl_s, refresh_token_ttl_s, password_hash: interactive|moderate|minimum}
// (drain_timeout_s, resume_grace_s, orphan_after_s and the auth section extend the agreed schema.)
//
// Ownership: plain values. Thread-safety: parse functions are pure apart from reading the files named
// (tls) and the environment lookup they are given. Failure behaviour: InvalidArgument listing every
// problem; NotFound when the file cannot be read. Never echoes a secret's value in an error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "prod/auth/client_address.h"
#include "ratelimit/tier.h"
#include "service/message_service.h"

namespace chatscale::serve {

struct ListenConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
};

struct TlsConfig {
  std::string cert;
  std::string key;
};

struct DbServerConfig {
  std::string name;
  std::string dsn;
  std::string region;
};

struct DatabaseConfig {
  DbServerConfig primary;
  std::vector<DbServerConfig> replicas;
  int pool_size = 8;
  int statement_timeout_ms = 5000;
  int replica_poll_ms = 200;
  double max_lag_seconds = 5;
};

struct RedisServerConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int pool_size = 8;
  double timeout_s = 1.0;
  std::string key_prefix = "chatscale:";
};

struct ContentKeyConfig {
  std::string id;
  std::string key;  // 32 raw bytes
};

struct SecretsConfig {
  std::string jwt_secret;      // raw bytes (decoded from hex)
  std::string api_key_pepper;  // raw bytes (decoded from hex)
  std::vector<ContentKeyConfig> content_keys;
};

enum class BackendKind { kSynthetic, kOpenAi, kEngine };

struct BackendConfig {
  std::string name;
  BackendKind kind = BackendKind::kSynthetic;
  std::string region;
  std::int64_t max_in_flight = 0;
  // synthetic
  double tokens_per_second = 200;
  double first_token_ms = 20;
  std::int64_t answer_tokens = 60;
  std::int64_t seed = 0;
  // openai
  std::string url;
  std::string model;
  std::string api_key;
  double connect_timeout_s = 5;
  double response_timeout_s = 60;
  double health_interval_s = 5;
  std::string health_path = "/v1/models";
  // engine (`model` above is then the GGUF file)
  std::string device = "cpu";
  std::int64_t threads = 0;
  std::int64_t kv_blocks = 0;
  double gpu_memory_utilization = 0.9;
  std::int64_t max_context = 8192;
};

struct LimitsConfig {
  std::int64_t max_header_bytes = 16384;
  std::int64_t max_body_bytes = 1048576;
  double read_timeout_s = 30;
  double write_timeout_s = 30;
  std::int64_t max_stream_buffer_bytes = 262144;
  std::int64_t max_connections = 50000;
  double drain_timeout_s = 20;   // graceful stop: streams in flight may finish within this
  double resume_grace_s = 120;   // a finished generation stays resumable in memory this long
  // An answer still 'streaming' this long after its last write belonged to an instance that died; it
  // is marked partial (finish reason error). 0: derived from the service's timeouts (the longest a
  // live generation can go unwritten, plus a margin; see orphan_after_s()).
  double orphan_after_s = 0;
  // Auth routes (prod/auth/auth_limiter.h); 0 disables a limit.
  double login_per_minute_per_ip = 10;
  double register_per_minute_per_ip = 5;
  double login_failures_per_minute_per_account = 5;
  // Peers whose X-Forwarded-For first hop is taken as the client address: "10.0.0.0/8, ::1" (a
  // string of CIDRs separated by commas or spaces). Empty: the socket peer always.
  auth::CidrList trusted_proxies;
};

// limits.orphan_after_s, or when 0 the longest a live generation can go without a write (every
// backend attempt's first-token timeout, or the stall timeout) plus two checkpoint intervals and 30 s.
double orphan_after_s(const LimitsConfig& limits, const MessageServiceConfig& service);

enum class PasswordHashCost { kInteractive, kModerate, kMinimum };

struct AuthConfig {
  double access_token_ttl_s = 15 * 60;
  double refresh_token_ttl_s = 30 * 24 * 3600;
  PasswordHashCost password_hash = PasswordHashCost::kInteractive;
};

struct ServeConfig {
  std::string filename;
  ListenConfig listen;
  int io_threads = 2;
  int blocking_threads = 16;
  std::optional<TlsConfig> tls;
  std::optional<DatabaseConfig> database;
  std::optional<RedisServerConfig> redis;
  SecretsConfig secrets;
  std::vector<BackendConfig> backends;
  MessageServiceConfig service;
  std::vector<Tier> tiers;
  LimitsConfig limits;
  AuthConfig auth;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// The free and plus tiers used when rate_limits is absent.
std::vector<Tier> default_tiers();

Result<ServeConfig> parse_serve_config(std::string_view yaml, const std::string& filename, const EnvLookup& env);
Result<ServeConfig> load_serve_config(const std::string& path, const EnvLookup& env = process_environment());

// Every key path the parser accepts ("backends[].url", "rate_limits.*.concurrent"), for docs and tests.
std::set<std::string> serve_config_key_paths();

}  // namespace chatscale::serve
