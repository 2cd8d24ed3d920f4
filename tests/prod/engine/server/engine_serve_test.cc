// serve.yaml backends of kind engine: parsed (model required, device/threads/kv_blocks only for kind
// engine, openai-only keys refused), and `chatscale serve` assembled in process (ChatServer) with the
// engine as its only backend answering the service's authenticated OpenAI-compatible endpoint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "prod/serve/chat_server.h"
#include "prod/serve/serve_config.h"
#include "tests/prod/engine/server/tiny_gguf.h"
#include "tests/prod/http/test_client.h"

namespace chatscale::engine {
namespace {

using http::testing::make_request;
using http::testing::TestClient;
using nlohmann::json;

std::optional<std::string> no_env(const std::string&) { return std::nullopt; }

std::string config_yaml(const std::string& backend) {
  const std::string hex(64, 'a');
  return "listen: {host: 127.0.0.1, port: 0}\nio_threads: 2\nblocking_threads: 4\n"
         "secrets: {jwt_secret: \"" + hex + "\", api_key_pepper: \"" + hex + "\"}\n"
         "backends:\n  - " + backend + "\n"
         "service: {model: tiny}\nauth: {password_hash: minimum}\n";
}

TEST(EngineServeConfig, KindEngine) {
  auto ok = serve::parse_serve_config(
      config_yaml("{name: local, kind: engine, model: /m/tiny.gguf, threads: 2, kv_blocks: 64}"), "s.yaml", no_env);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  const serve::BackendConfig& b = ok->backends.at(0);
  EXPECT_EQ(b.kind, serve::BackendKind::kEngine);
  EXPECT_EQ(b.model, "/m/tiny.gguf");
  EXPECT_EQ(b.device, "cpu");
  EXPECT_EQ(b.threads, 2);
  EXPECT_EQ(b.kv_blocks, 64);

  auto no_model = serve::parse_serve_config(config_yaml("{name: local, kind: engine}"), "s.yaml", no_env);
  ASSERT_FALSE(no_model.is_ok());
  EXPECT_NE(no_model.status().message().find("model"), std::string::npos) << no_model.status().message();
  auto misplaced = serve::parse_serve_config(
      config_yaml("{name: local, kind: engine, model: m.gguf, url: \"http://x\"}"), "s.yaml", no_env);
  ASSERT_FALSE(misplaced.is_ok());
  EXPECT_NE(misplaced.status().message().find("only for kind openai"), std::string::npos) << misplaced.status().message();
  auto engine_key = serve::parse_serve_config(
      config_yaml("{name: s, kind: synthetic, kv_blocks: 4}"), "s.yaml", no_env);
  ASSERT_FALSE(engine_key.is_ok());
  EXPECT_NE(engine_key.status().message().find("only for kind engine"), std::string::npos) << engine_key.status().message();
  auto device = serve::parse_serve_config(
      config_yaml("{name: local, kind: engine, model: m.gguf, device: tpu}"), "s.yaml", no_env);
  EXPECT_FALSE(device.is_ok());
  EXPECT_EQ(serve::serve_config_key_paths().count("backends[].kv_blocks"), 1u);
}

TEST(EngineServe, ChatServerAnswersWithTheEngine) {
  testing::TinyGguf model;
  ASSERT_TRUE(model.status().is_ok()) << model.status().message();
  auto config = serve::parse_serve_config(
      config_yaml("{name: local, kind: engine, model: \"" + model.path() + "\", threads: 1, kv_blocks: 64}"), "s.yaml",
      no_env);
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  std::ostringstream notices;
  auto server = serve::ChatServer::create(std::move(config).value(), notices);
  ASSERT_TRUE(server.is_ok()) << server.status().message();
  EXPECT_NE(notices.str().find("backend local: engine"), std::string::npos) << notices.str();
  ASSERT_TRUE((*server)->start().is_ok());
  std::thread runner([&] { (*server)->run(); });

  auto client = TestClient::connect((*server)->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->send(make_request("POST", "/auth/register", R"({"email":"e@example.com","password":"a long password"})",
                                        "content-type: application/json\r\n")));
  auto reg = client->read_response(30);
  ASSERT_TRUE(reg.has_value());
  ASSERT_EQ(reg->status, 201) << reg->body;
  const std::string token = json::parse(reg->body).value("access_token", "");
  const std::string body = R"({"model":"tiny","max_tokens":6,"temperature":0,"messages":[{"role":"user","content":"Hi"}]})";
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", body,
                                        "content-type: application/json\r\nauthorization: Bearer " + token + "\r\n")));
  auto answer = client->read_response(60);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200) << answer->body;
  json a = json::parse(answer->body, nullptr, false);
  EXPECT_EQ(a["object"], "chat.completion");
  EXPECT_GE(a["usage"]["completion_tokens"].get<int>(), 1);
  EXPECT_LE(a["usage"]["completion_tokens"].get<int>(), 6);
  client->close();
  (*server)->shutdown(true);
  runner.join();
}

}  // namespace
}  // namespace chatscale::engine
