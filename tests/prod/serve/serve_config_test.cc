// serve.yaml parsing: the agreed example, secrets from the environment, and one test per kind of error
// ("file:line: field: problem", unknown keys with did-you-mean, ranges, secrets never echoed).
#include "prod/serve/serve_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace chatscale::serve {
namespace {

const std::string kHex32 = std::string(64, 'a');
const std::string kKey32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // base64 of 32 bytes

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string minimal(const std::string& extra = "") {
  return "secrets:\n  jwt_secret: \"" + kHex32 + "\"\n  api_key_pepper: \"" + kHex32 +
         "\"\nbackends:\n  - {name: synthetic, kind: synthetic}\n" + extra;
}

std::string errors_of(const std::string& yaml, std::map<std::string, std::string> vars = {}) {
  auto parsed = parse_serve_config(yaml, "serve.yaml", env_of(std::move(vars)));
  return parsed.is_ok() ? "" : parsed.status().message();
}

TEST(ServeConfig, TheAgreedExampleParses) {
  const std::string yaml = R"(# Written by scripts/services
listen: {host: 127.0.0.1, port: 8080}
io_threads: 2
blocking_threads: 16
database:
  primary: {name: primary, dsn: "host=127.0.0.1 port=55432 dbname=chatscale user=chatscale", region: local}
  replicas:
    - {name: replica1, dsn: "host=127.0.0.1 port=55433 dbname=chatscale user=chatscale", region: local}
    - {name: replica2, dsn: "host=127.0.0.1 port=55434 dbname=chatscale user=chatscale", region: local}
  pool_size: 8
  statement_timeout_ms: 5000
  replica_poll_ms: 200
  max_lag_seconds: 5
redis: {host: 127.0.0.1, port: 56379}
secrets:
  jwt_secret: ")" + kHex32 + R"("
  api_key_pepper_env: PEPPER
  content_keys:
    - {id: k1, key: ")" + kKey32 + R"("}
    - {id: k0, key_env: OLD_KEY}
backends:
  - {name: synthetic, kind: synthetic, tokens_per_second: 200, first_token_ms: 20, answer_tokens: 60}
  - {name: vllm-a, kind: openai, url: "http://127.0.0.1:8000", model: "llama-3-8b", api_key_env: UPSTREAM_KEY}
service:
  model: default
  context_window_tokens: 8192
  default_max_tokens: 1024
  routing: power_of_two
rate_limits:
  free: {requests_per_minute: 60, tokens_per_minute: 40000, concurrent: 4}
  plus: {requests_per_minute: 600, tokens_per_minute: 400000, concurrent: 16}
limits:
  max_header_bytes: 16384
  max_body_bytes: 1048576
  read_timeout_s: 30
  write_timeout_s: 30
  max_stream_buffer_bytes: 262144
  max_connections: 50000
)";
  auto parsed = parse_serve_config(
      yaml, "serve.yaml", env_of({{"PEPPER", std::string(96, 'b')}, {"OLD_KEY", kKey32}, {"UPSTREAM_KEY", "sk-up"}}));
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  const ServeConfig& c = *parsed;
  EXPECT_EQ(c.listen.port, 8080);
  ASSERT_TRUE(c.database.has_value());
  EXPECT_EQ(c.database->replicas.size(), 2u);
  EXPECT_EQ(c.database->replicas[1].dsn, "host=127.0.0.1 port=55434 dbname=chatscale user=chatscale");
  ASSERT_TRUE(c.redis.has_value());
  EXPECT_EQ(c.redis->port, 56379);
  EXPECT_EQ(c.secrets.jwt_secret, std::string(32, '\xaa')) << "hex decoded";
  EXPECT_EQ(c.secrets.api_key_pepper.size(), 48u);
  ASSERT_EQ(c.secrets.content_keys.size(), 2u);
  EXPECT_EQ(c.secrets.content_keys[0].key, "0123456789abcdef0123456789abcdef");
  ASSERT_EQ(c.backends.size(), 2u);
  EXPECT_EQ(c.backends[1].kind, BackendKind::kOpenAi);
  EXPECT_EQ(c.backends[1].api_key, "sk-up");
  EXPECT_EQ(c.service.routing, RoutingPolicy::kPowerOfTwo);
  ASSERT_EQ(c.tiers.size(), 2u);
  EXPECT_EQ(c.tiers[1].name, "plus");
  EXPECT_EQ(c.tiers[1].max_concurrent, 16);
  EXPECT_FALSE(c.tls.has_value());
}

TEST(ServeConfig, DefaultsWhenSectionsAreAbsent) {
  auto parsed = parse_serve_config(minimal(), "serve.yaml", env_of({}));
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_FALSE(parsed->database.has_value());
  EXPECT_FALSE(parsed->redis.has_value());
  EXPECT_EQ(parsed->listen.host, "127.0.0.1");
  EXPECT_EQ(parsed->tiers.size(), default_tiers().size());
  EXPECT_EQ(parsed->backends[0].answer_tokens, 60);
}

TEST(ServeConfig, ErrorsNameFileLineAndField) {
  EXPECT_EQ(errors_of(minimal("listen: {host: 0.0.0.0, portt: 80}\n")),
            "serve.yaml:6: listen.portt: unknown field \"portt\" (did you mean \"port\"?)");
  EXPECT_EQ(errors_of(minimal("io_threads: 0\n")), "serve.yaml:6: io_threads: must be between 1 and 256, got 0");
  EXPECT_NE(errors_of(minimal("listen: {port: 70000}\n")).find("serve.yaml:6: listen.port: must be between 0 and 65535"),
            std::string::npos);
  EXPECT_NE(errors_of(minimal("limits: {read_timeout_s: -1}\n")).find("limits.read_timeout_s"), std::string::npos);
  EXPECT_NE(errors_of(minimal("service: {routing: random}\n")).find("service.routing"), std::string::npos);
  EXPECT_NE(errors_of(minimal("service: {context_window_tokens: 100, default_max_tokens: 200}\n"))
                .find("service.default_max_tokens: must not exceed"),
            std::string::npos);
  EXPECT_NE(errors_of("secrets: {}\n").find("missing required field"), std::string::npos);
  EXPECT_NE(errors_of("listen: [\n").find("serve.yaml:"), std::string::npos) << "syntax errors have a line too";
  // Every problem at once.
  std::string many = errors_of(minimal("io_threads: 0\nblocking_threads: 0\n"));
  EXPECT_NE(many.find("io_threads"), std::string::npos);
  EXPECT_NE(many.find("blocking_threads"), std::string::npos);
}

TEST(ServeConfig, SecretsFromValueOrEnvironmentNeverEchoed) {
  const std::string secret = "zz" + std::string(62, 'q');  // not hex
  std::string e = errors_of("secrets:\n  jwt_secret: \"" + secret + "\"\n  api_key_pepper: \"" + kHex32 +
                            "\"\nbackends: [{name: s, kind: synthetic}]\n");
  EXPECT_NE(e.find("serve.yaml:2: secrets.jwt_secret: must be hexadecimal"), std::string::npos) << e;
  EXPECT_EQ(e.find(secret), std::string::npos) << "the value is not in the message";

  EXPECT_NE(errors_of("secrets:\n  jwt_secret: \"abcd\"\n  api_key_pepper: \"" + kHex32 +
                      "\"\nbackends: [{name: s, kind: synthetic}]\n")
                .find("must be 64 to 2048 hex characters, got 4"),
            std::string::npos);
  std::string both = "secrets:\n  jwt_secret: \"" + kHex32 + "\"\n  jwt_secret_env: X\n  api_key_pepper: \"" + kHex32 +
                     "\"\nbackends: [{name: s, kind: synthetic}]\n";
  EXPECT_NE(errors_of(both, {{"X", kHex32}}).find("not both"), std::string::npos);
  std::string from_env = "secrets:\n  jwt_secret_env: JWT\n  api_key_pepper_env: PEPPER\nbackends: [{name: s, kind: synthetic}]\n";
  EXPECT_NE(errors_of(from_env, {{"JWT", kHex32}}).find("serve.yaml:3: secrets.api_key_pepper_env: environment variable PEPPER is not set"),
            std::string::npos);
  EXPECT_EQ(errors_of(from_env, {{"JWT", kHex32}, {"PEPPER", kHex32}}), "");
  EXPECT_NE(errors_of(minimal("database: {primary: {name: p, dsn: \"host=x\"}}\n")).find("content_keys"), std::string::npos);
  EXPECT_NE(errors_of("secrets:\n  jwt_secret: \"" + kHex32 + "\"\n  api_key_pepper: \"" + kHex32 +
                      "\"\n  content_keys: [{id: k1, key: \"c2hvcnQ=\"}]\nbackends: [{name: s, kind: synthetic}]\n")
                .find("secrets.content_keys[0].key: must be the base64 of 32 bytes"),
            std::string::npos);
}

TEST(ServeConfig, BackendsAndTiersAreChecked) {
  auto with_backends = [](const std::string& list) {
    return "secrets:\n  jwt_secret: \"" + kHex32 + "\"\n  api_key_pepper: \"" + kHex32 + "\"\nbackends:\n" + list;
  };
  EXPECT_NE(errors_of(with_backends("  - {name: a, kind: synthetic, url: \"http://x\"}\n")).find("backends[0].url: only for kind openai"),
            std::string::npos);
  EXPECT_NE(errors_of(with_backends("  - {name: a, kind: openai}\n")).find("backends[0].url: missing required field"),
            std::string::npos);
  EXPECT_NE(errors_of(with_backends("  - {name: a, kind: gpu}\n")).find("backends[0].kind"), std::string::npos);
  EXPECT_NE(errors_of(with_backends("  - {name: a, kind: synthetic}\n  - {name: a, kind: synthetic}\n")).find("duplicate backend name"),
            std::string::npos);
  EXPECT_NE(errors_of(with_backends("  []\n")).find("backends"), std::string::npos);
  EXPECT_NE(errors_of(minimal("rate_limits:\n  plus: {requests_per_minute: 5}\n")).find("must define tier \"free\""),
            std::string::npos);
  EXPECT_NE(errors_of(minimal("rate_limits:\n  free: {request_per_minute: 5}\n"))
                .find("rate_limits.free.request_per_minute: unknown field \"request_per_minute\" (did you mean \"requests_per_minute\"?)"),
            std::string::npos);
  auto tiers = parse_serve_config(minimal("rate_limits:\n  free: {requests_per_minute: 5, concurrent: 1}\n"), "f", env_of({}));
  ASSERT_TRUE(tiers.is_ok());
  ASSERT_EQ(tiers->tiers.size(), 1u);
  EXPECT_EQ(tiers->tiers[0].requests_per_minute, 5);
  EXPECT_EQ(tiers->tiers[0].max_concurrent, 1);
}

TEST(ServeConfig, TlsFilesMustBeReadable) {
  EXPECT_NE(errors_of(minimal("tls: {cert: /nonexistent/cert.pem, key: /nonexistent/key.pem}\n"))
                .find("serve.yaml:6: tls.cert: cannot read /nonexistent/cert.pem"),
            std::string::npos);
  auto dir = std::filesystem::temp_directory_path() / ("serve-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.pem") << "x";
  std::ofstream(dir / "k.pem") << "x";
  EXPECT_EQ(errors_of(minimal("tls: {cert: " + (dir / "c.pem").string() + ", key: " + (dir / "k.pem").string() + "}\n")), "");
  std::filesystem::remove_all(dir);
}

TEST(ServeConfig, AuthRouteLimitsAndTrustedProxies) {
  auto defaults = parse_serve_config(minimal(), "serve.yaml", env_of({}));
  ASSERT_TRUE(defaults.is_ok()) << defaults.status().to_string();
  EXPECT_EQ(defaults->limits.login_per_minute_per_ip, 10);
  EXPECT_EQ(defaults->limits.register_per_minute_per_ip, 5);
  EXPECT_EQ(defaults->limits.login_failures_per_minute_per_account, 5);
  EXPECT_TRUE(defaults->limits.trusted_proxies.empty());
  auto set = parse_serve_config(minimal("limits: {login_per_minute_per_ip: 0, trusted_proxies: \"10.0.0.0/8, ::1\"}\n"),
                                "serve.yaml", env_of({}));
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  EXPECT_EQ(set->limits.login_per_minute_per_ip, 0);
  EXPECT_EQ(set->limits.trusted_proxies.size(), 2u);
  EXPECT_NE(errors_of(minimal("limits: {trusted_proxies: \"10.0.0.0/40\"}\n")).find("limits.trusted_proxies"),
            std::string::npos);
  EXPECT_NE(errors_of(minimal("limits: {register_per_minute_per_ip: -1}\n")).find("limits.register_per_minute_per_ip"),
            std::string::npos);
}

TEST(ServeConfig, FileErrorsAndKeyPaths) {
  EXPECT_EQ(load_serve_config("/nonexistent/serve.yaml").status().code(), StatusCode::kNotFound);
  auto paths = serve_config_key_paths();
  for (const char* key : {"listen.port", "database.replicas[].dsn", "secrets.jwt_secret_env", "secrets.content_keys[].key_env",
                          "backends[].url", "backends[].answer_tokens", "service.heartbeat_interval_s",
                          "rate_limits.*.concurrent", "limits.max_stream_buffer_bytes", "auth.password_hash", "redis.port",
                          "tls.cert"})
    EXPECT_EQ(paths.count(key), 1u) << key;
}

}  // namespace
}  // namespace chatscale::serve
