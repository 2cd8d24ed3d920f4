#include "prod/serve/serve_config.h"

#include <algorithm>

#include <sodium.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "scenario/yaml_reader.h"

namespace chatscale::serve {
namespace {

// A secret from `key` or from the variable named by `key_env`: exactly one of them. Errors name the
// field and the variable, never the value.
std::optional<std::string> read_secret(YamlDocument& doc, YamlMap& m, const std::string& key, const EnvLookup& env,
                                       bool required) {
  std::string value, variable;
  m.text(key, value);
  m.text(key + "_env", variable);
  const std::string path = (m.path().empty() ? "" : m.path() + ".") + key;
  if (m.has(key) && m.has(key + "_env")) {
    doc.error_at(path, "give the value or " + key + "_env, not both");
    return std::nullopt;
  }
  if (m.has(key + "_env")) {
    auto found = env ? env(variable) : std::nullopt;
    if (!found || found->empty()) {
      doc.error_at(path + "_env", "environment variable " + variable + " is not set");
      return std::nullopt;
    }
    return found;
  }
  if (m.has(key)) return value;
  if (required) doc.error(m.line(), path, "missing required field (or " + key + "_env)");
  return std::nullopt;
}

std::optional<std::string> decode_hex(std::string_view text) {
  std::string out(text.size() / 2, '\0');
  std::size_t length = 0;
  if (text.size() % 2 != 0 ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                     &length, nullptr) != 0 ||
      length != out.size())
    return std::nullopt;
  return out;
}

std::optional<std::string> decode_base64(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(length);
  return out;
}

// A hex secret of min..max bytes, decoded.
void hex_secret(YamlDocument& doc, YamlMap& m, const std::string& key, const EnvLookup& env, std::size_t min_bytes,
                std::size_t max_bytes, std::string& out) {
  auto text = read_secret(doc, m, key, env, /*required=*/true);
  if (!text) return;
  const std::string path = m.path() + "." + key;
  auto bytes = decode_hex(*text);
  if (!bytes) return doc.error_at(path, "must be hexadecimal (e.g. `openssl rand -hex 32`)");
  if (bytes->size() < min_bytes || bytes->size() > max_bytes)
    return doc.error_at(path, "must be " + std::to_string(min_bytes * 2) + " to " + std::to_string(max_bytes * 2) +
                                  " hex characters, got " + std::to_string(text->size()));
  out = std::move(*bytes);
}

void read_server(YamlMap& m, DbServerConfig& out) {
  m.require({"name", "dsn"});
  m.text("name", out.name);
  m.text("dsn", out.dsn);
  m.text("region", out.region, /*allow_empty=*/true);
}

DatabaseConfig read_database(YamlMap& m) {
  DatabaseConfig db;
  m.require({"primary"});
  m.section("primary", [&](YamlMap& p) { read_server(p, db.primary); });
  m.list("replicas", [&](YamlMap& r) { read_server(r, db.replicas.emplace_back()); });
  m.integer("pool_size", db.pool_size, Range::between(1, 1000));
  m.integer("statement_timeout_ms", db.statement_timeout_ms, Range::between(1, 3'600'000));
  m.integer("replica_poll_ms", db.replica_poll_ms, Range::between(10, 60'000));
  m.number("max_lag_seconds", db.max_lag_seconds, Range::positive());
  return db;
}

RedisServerConfig read_redis(YamlMap& m) {
  RedisServerConfig redis;
  m.require({"host", "port"});
  m.text("host", redis.host);
  m.integer("port", redis.port, Range::between(1, 65535));
  m.integer("pool_size", redis.pool_size, Range::between(1, 1000));
  m.number("timeout_s", redis.timeout_s, Range::positive());
  m.text("key_prefix", redis.key_prefix, /*allow_empty=*/true);
  return redis;
}

void read_tls(YamlDocument& doc, YamlMap& m, TlsConfig& tls) {
  m.require({"cert", "key"});
  m.text("cert", tls.cert);
  m.text("key", tls.key);
  for (auto [key, file] : {std::pair{"cert", &tls.cert}, std::pair{"key", &tls.key}}) {
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0)
      doc.error_at(m.path() + "." + key, "cannot read " + *file);
  }
}

void read_secrets(YamlDocument& doc, YamlMap& m, const EnvLookup& env, SecretsConfig& secrets) {
  hex_secret(doc, m, "jwt_secret", env, 32, 1024, secrets.jwt_secret);
  hex_secret(doc, m, "api_key_pepper", env, 32, 64, secrets.api_key_pepper);
  m.list("content_keys", [&](YamlMap& k) {
    ContentKeyConfig key;
    k.require({"id"});
    k.text("id", key.id);
    auto text = read_secret(doc, k, "key", env, /*required=*/true);
    if (text) {
      auto bytes = decode_base64(*text);
      if (!bytes || bytes->size() != 32) doc.error_at(k.path() + ".key", "must be the base64 of 32 bytes");
      else key.key = std::move(*bytes);
    }
    for (const auto& earlier : secrets.content_keys)
      if (!key.id.empty() && earlier.id == key.id) doc.error_at(k.path() + ".id", "duplicate key id \"" + key.id + "\"");
    secrets.content_keys.push_back(std::move(key));
  });
}

void read_backend(YamlDocument& doc, YamlMap& m, const EnvLookup& env, BackendConfig& b) {
  m.require({"name", "kind"});
  m.text("name", b.name);
  m.choice("kind", b.kind,
           {{"synthetic", BackendKind::kSynthetic}, {"openai", BackendKind::kOpenAi}, {"engine", BackendKind::kEngine}});
  m.text("region", b.region, /*allow_empty=*/true);
  m.integer("max_in_flight", b.max_in_flight, Range::at_least(0));
  static const char* kSynthetic[] = {"tokens_per_second", "first_token_ms", "answer_tokens", "seed"};
  static const char* kOpenAi[] = {"url", "model", "api_key", "api_key_env", "connect_timeout_s",
                                  "response_timeout_s", "health_interval_s", "health_path"};
  static const char* kOpenAiOnly[] = {"url", "api_key", "api_key_env", "connect_timeout_s",
                                      "response_timeout_s", "health_interval_s", "health_path"};
  static const char* kEngine[] = {"device", "threads", "kv_blocks", "gpu_memory_utilization", "max_context"};
  const bool openai = b.kind == BackendKind::kOpenAi;
  const bool engine = b.kind == BackendKind::kEngine;
  const bool synthetic = b.kind == BackendKind::kSynthetic;
  const bool walk = doc.schema_walk();
  auto misplaced = [&](auto& keys, const char* kind) {
    for (const char* key : keys) {
      if (!m.has(key)) continue;
      doc.error_at(m.path() + "." + key, std::string("only for kind ") + kind);
      std::string ignored;
      m.text(key, ignored, /*allow_empty=*/true);  // reported once, not again as an unknown field
    }
  };
  if (!walk) {
    if (!synthetic) misplaced(kSynthetic, "synthetic");
    if (synthetic) misplaced(kOpenAi, "openai");
    if (engine) misplaced(kOpenAiOnly, "openai");
    if (!engine) misplaced(kEngine, "engine");
  }
  if (openai || walk) {
    m.require({"url"});
    m.text("url", b.url);
    m.text("model", b.model, /*allow_empty=*/true);
    b.api_key = read_secret(doc, m, "api_key", env, /*required=*/false).value_or("");
    m.number("connect_timeout_s", b.connect_timeout_s, Range::positive());
    m.number("response_timeout_s", b.response_timeout_s, Range::positive());
    m.number("health_interval_s", b.health_interval_s, Range::at_least(0));
    m.text("health_path", b.health_path);
  }
  if (synthetic || walk) {
    m.number("tokens_per_second", b.tokens_per_second, Range::at_least(0));
    m.number("first_token_ms", b.first_token_ms, Range::at_least(0));
    m.integer("answer_tokens", b.answer_tokens, Range::between(1, 1'000'000));
    m.integer("seed", b.seed, Range::at_least(0));
  }
  if (engine || walk) {
    if (engine) {
      m.require({"model"});
      m.text("model", b.model);
    }
    m.text("device", b.device);
    if (b.device != "cpu" && b.device != "cuda") doc.error_at(m.path() + ".device", "must be cpu or cuda");
    m.integer("threads", b.threads, Range::between(0, 1024));
    m.integer("kv_blocks", b.kv_blocks, Range::at_least(0));
    m.number("gpu_memory_utilization", b.gpu_memory_utilization, Range::between(0.05, 0.99));
    m.integer("max_context", b.max_context, Range::between(0, 10'000'000));
  }
}

void read_service(YamlMap& m, MessageServiceConfig& s) {
  m.text("model", s.model);
  m.text("system_prompt", s.system_prompt, /*allow_empty=*/true);
  m.integer("context_window_tokens", s.context_window_tokens, Range::between(16, 10'000'000));
  m.integer("default_max_tokens", s.default_max_tokens, Range::between(1, 10'000'000));
  m.integer("max_message_bytes", s.max_message_bytes, Range::between(1, 64 << 20));
  m.integer("history_messages", s.history_messages, Range::between(0, 100'000));
  m.integer("max_backend_attempts", s.max_backend_attempts, Range::between(1, 100));
  m.number("first_token_timeout_s", s.first_token_timeout_s, Range::positive());
  m.number("stall_timeout_s", s.stall_timeout_s, Range::positive());
  m.number("heartbeat_interval_s", s.heartbeat_interval_s, Range::positive());
  m.integer("checkpoint_tokens", s.checkpoint_tokens, Range::between(1, 10'000'000));
  m.number("checkpoint_interval_s", s.checkpoint_interval_s, Range::positive());
  m.integer("final_write_attempts", s.final_write_attempts, Range::between(1, 100));
  m.number("final_write_backoff_s", s.final_write_backoff_s, Range::at_least(0));
  m.choice("routing", s.routing, {{"least_loaded", RoutingPolicy::kLeastLoaded}, {"power_of_two", RoutingPolicy::kPowerOfTwo}});
}

void read_tier(YamlMap& m, Tier& tier) {
  m.number("requests_per_minute", tier.requests_per_minute, Range::at_least(0));
  m.number("tokens_per_minute", tier.tokens_per_minute, Range::at_least(0));
  m.integer("concurrent", tier.max_concurrent, Range::at_least(0));
  m.integer("max_output_tokens", tier.max_output_tokens, Range::at_least(0));
  m.integer("priority", tier.priority, Range::between(-1000, 1000));
}

void read_rate_limits(YamlDocument& doc, YamlMap& m, std::vector<Tier>& tiers) {
  tiers.clear();
  YAML::Node node = doc.schema_walk() ? YAML::Node() : doc.root()["rate_limits"];
  if (doc.schema_walk()) {
    m.section("*", [&](YamlMap& t) { read_tier(t, tiers.emplace_back()); });
    return;
  }
  if (!node.IsMap()) return;  // a wrong type was reported by the section itself
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) continue;
    Tier tier;
    tier.name = entry.first.Scalar();
    m.section(tier.name, [&](YamlMap& t) { read_tier(t, tier); });
    tiers.push_back(tier);
  }
  bool has_free = false;
  for (const auto& t : tiers) has_free = has_free || t.name == "free";
  if (!has_free) doc.error_at("rate_limits", "must define tier \"free\" (new accounts start on it)");
}

void read_limits(YamlDocument& doc, YamlMap& m, LimitsConfig& l) {
  m.integer("max_header_bytes", l.max_header_bytes, Range::between(1024, 1 << 20));
  m.integer("max_body_bytes", l.max_body_bytes, Range::between(1024, 1 << 30));
  m.number("read_timeout_s", l.read_timeout_s, Range::positive());
  m.number("write_timeout_s", l.write_timeout_s, Range::positive());
  m.integer("max_stream_buffer_bytes", l.max_stream_buffer_bytes, Range::between(4096, 1 << 30));
  m.integer("max_connections", l.max_connections, Range::between(1, 10'000'000));
  m.number("drain_timeout_s", l.drain_timeout_s, Range::at_least(0));
  m.number("resume_grace_s", l.resume_grace_s, Range::at_least(0));
  m.number("orphan_after_s", l.orphan_after_s, Range::at_least(0));
  m.number("login_per_minute_per_ip", l.login_per_minute_per_ip, Range::at_least(0));
  m.number("register_per_minute_per_ip", l.register_per_minute_per_ip, Range::at_least(0));
  m.number("login_failures_per_minute_per_account", l.login_failures_per_minute_per_account, Range::at_least(0));
  std::string proxies;
  m.text("trusted_proxies", proxies, true);
  if (auto parsed = auth::parse_cidrs(proxies); parsed.is_ok()) {
    l.trusted_proxies = std::move(parsed).value();
  } else {
    doc.error_at(m.path() + ".trusted_proxies", parsed.status().message());
  }
}

void read_auth(YamlMap& m, AuthConfig& a) {
  m.number("access_token_ttl_s", a.access_token_ttl_s, Range::between(10, 7 * 24 * 3600));
  m.number("refresh_token_ttl_s", a.refresh_token_ttl_s, Range::between(60, 365 * 24 * 3600));
  m.choice("password_hash", a.password_hash,
           {{"interactive", PasswordHashCost::kInteractive},
            {"moderate", PasswordHashCost::kModerate},
            {"minimum", PasswordHashCost::kMinimum}});
}

void read_config(YamlDocument& doc, YamlMap& root, const EnvLookup& env, ServeConfig& c) {
  root.section("listen", [&](YamlMap& m) {
    m.text("host", c.listen.host);
    m.integer("port", c.listen.port, Range::between(0, 65535));
  });
  root.integer("io_threads", c.io_threads, Range::between(1, 256));
  root.integer("blocking_threads", c.blocking_threads, Range::between(1, 1024));
  if (root.has("tls") || doc.schema_walk()) root.section("tls", [&](YamlMap& m) { read_tls(doc, m, c.tls.emplace()); });
  if (root.has("database") || doc.schema_walk()) root.section("database", [&](YamlMap& m) { c.database = read_database(m); });
  if (root.has("redis") || doc.schema_walk()) root.section("redis", [&](YamlMap& m) { c.redis = read_redis(m); });
  root.require({"secrets", "backends"});
  root.section("secrets", [&](YamlMap& m) { read_secrets(doc, m, env, c.secrets); });
  std::size_t backends = root.list("backends", [&](YamlMap& m) { read_backend(doc, m, env, c.backends.emplace_back()); });
  if (root.has("backends") && backends == 0 && !doc.schema_walk()) doc.error_at("backends", "at least one backend is required");
  root.section("service", [&](YamlMap& m) { read_service(m, c.service); });
  if (root.has("rate_limits") || doc.schema_walk()) root.section("rate_limits", [&](YamlMap& m) { read_rate_limits(doc, m, c.tiers); });
  root.section("limits", [&](YamlMap& m) { read_limits(doc, m, c.limits); });
  root.section("auth", [&](YamlMap& m) { read_auth(m, c.auth); });
}

// Rules across fields, once every field has been read.
void validate(YamlDocument& doc, const ServeConfig& c) {
  if (c.service.default_max_tokens > c.service.context_window_tokens)
    doc.error_at("service.default_max_tokens", "must not exceed service.context_window_tokens");
  if (c.database && c.secrets.content_keys.empty())
    doc.error_at("secrets", "content_keys: at least one key is required with a database (messages are encrypted at rest)");
  std::set<std::string> names;
  for (std::size_t i = 0; i < c.backends.size(); ++i)
    if (!c.backends[i].name.empty() && !names.insert(c.backends[i].name).second)
      doc.error_at("backends[" + std::to_string(i) + "].name", "duplicate backend name \"" + c.backends[i].name + "\"");
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<Tier> default_tiers() {
  Tier free{"free", 60, 40'000, 4, 0, 0, 0};
  Tier plus{"plus", 600, 400'000, 16, 0, 0, 1};
  return {free, plus};
}

Result<ServeConfig> parse_serve_config(std::string_view yaml, const std::string& filename, const EnvLookup& env) {
  if (sodium_init() < 0) return internal_error("libsodium could not initialise");
  YamlDocument doc(filename);
  ServeConfig config;
  config.filename = filename;
  config.tiers = default_tiers();
  if (doc.load(yaml)) read_root(doc, [&](YamlMap& root) { read_config(doc, root, env, config); });
  if (!doc.has_errors()) validate(doc, config);
  CS_RETURN_IF_ERROR(doc.status());
  return config;
}

Result<ServeConfig> load_serve_config(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_serve_config(text.str(), path, env);
}

std::set<std::string> serve_config_key_paths() {
  YamlDocument doc("schema", /*schema_walk=*/true);
  ServeConfig config;
  YamlMap root(doc, YAML::Node(), "", 1);
  read_config(doc, root, [](const std::string&) { return std::optional<std::string>(); }, config);
  return doc.schema_paths();
}

double orphan_after_s(const LimitsConfig& limits, const MessageServiceConfig& service) {
  if (limits.orphan_after_s > 0) return limits.orphan_after_s;
  const double silent = std::max(service.first_token_timeout_s * std::max(service.max_backend_attempts, 1),
                                 service.stall_timeout_s);
  return silent + 2 * service.checkpoint_interval_s + 30;
}

}  // namespace chatscale::serve
