// serve.yaml backends of kind engine: parsed (model required, device/threads/kv_blocks only for kind
// engine, openai-only keys refused), and `chatscale serve` assembled in process (ChatServer) with the
// engine as its only backend answering the service's authenticated OpenAI-compatible endpoint; and
// the same assembly over the synthetic backend honouring `stop` through /v1/chat/completions.
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
  EXPECT_EQ(serve::serve_config_key_paths().count("backends[].gpu_memory_utilization"), 1u);

  // The CUDA keys: defaults, values, ranges.
  EXPECT_DOUBLE_EQ(b.gpu_memory_utilization, 0.9);
  EXPECT_EQ(b.max_context, 8192);
  auto cuda = serve::parse_serve_config(
      config_yaml("{name: g, kind: engine, model: m.gguf, device: cuda, gpu_memory_utilization: 0.5, max_context: 4096}"),
      "s.yaml", no_env);
  ASSERT_TRUE(cuda.is_ok()) << cuda.status().message();
  EXPECT_EQ(cuda->backends.at(0).device, "cuda");
  EXPECT_DOUBLE_EQ(cuda->backends.at(0).gpu_memory_utilization, 0.5);
  EXPECT_EQ(cuda->backends.at(0).max_context, 4096);
  auto share = serve::parse_serve_config(
      config_yaml("{name: g, kind: engine, model: m.gguf, gpu_memory_utilization: 1.5}"), "s.yaml", no_env);
  ASSERT_FALSE(share.is_ok());
  EXPECT_NE(share.status().message().find("gpu_memory_utilization"), std::string::npos) << share.status().message();
  auto cuda_key = serve::parse_serve_config(
      config_yaml("{name: s, kind: synthetic, max_context: 4}"), "s.yaml", no_env);
  EXPECT_FALSE(cuda_key.is_ok());
}

// ChatServer assembled from a serve.yaml with one backend, run on a thread, with a client connected
// and the request headers of a registered user.
struct RunningServer {
  ~RunningServer() {
    if (client) client->close();
    if (server) server->shutdown(true);
    if (runner.joinable()) runner.join();
  }
  // Empty when it runs, else what failed.
  std::string start(const std::string& backend_yaml) {
    auto config = serve::parse_serve_config(config_yaml(backend_yaml), "s.yaml", no_env);
    if (!config.is_ok()) return config.status().message();
    auto created = serve::ChatServer::create(std::move(config).value(), notices);
    if (!created.is_ok()) return created.status().message();
    server = std::move(created).value();
    if (Status s = server->start(); !s.is_ok()) return s.message();
    runner = std::thread([this] { server->run(); });
    client = TestClient::connect(server->port());
    if (client == nullptr) return "connect failed";
    client->send(make_request("POST", "/auth/register", R"({"email":"e@example.com","password":"a long password"})",
                              "content-type: application/json\r\n"));
    auto reg = client->read_response(30);
    if (!reg || reg->status != 201) return "register failed: " + (reg ? reg->body : std::string("no answer"));
    auth = "content-type: application/json\r\nauthorization: Bearer " +
           json::parse(reg->body).value("access_token", "") + "\r\n";
    return {};
  }

  std::ostringstream notices;
  std::unique_ptr<serve::ChatServer> server;
  std::thread runner;
  std::unique_ptr<TestClient> client;
  std::string auth;
};

TEST(EngineServe, ChatServerAnswersWithTheEngine) {
  testing::TinyGguf model;
  ASSERT_TRUE(model.status().is_ok()) << model.status().message();
  RunningServer r;
  const std::string failed =
      r.start("{name: local, kind: engine, model: \"" + model.path() + "\", threads: 1, kv_blocks: 64}");
  ASSERT_EQ(failed, "");
  EXPECT_NE(r.notices.str().find("backend local: engine"), std::string::npos) << r.notices.str();
  const std::string body = R"({"model":"tiny","max_tokens":6,"temperature":0,"messages":[{"role":"user","content":"Hi"}]})";
  ASSERT_TRUE(r.client->send(make_request("POST", "/v1/chat/completions", body, r.auth)));
  auto answer = r.client->read_response(60);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200) << answer->body;
  json a = json::parse(answer->body, nullptr, false);
  EXPECT_EQ(a["object"], "chat.completion");
  EXPECT_GE(a["usage"]["completion_tokens"].get<int>(), 1);
  EXPECT_LE(a["usage"]["completion_tokens"].get<int>(), 6);
}

TEST(ChatServerStop, SyntheticAnswersEndBeforeTheStopString) {
  // The synthetic filler ends every sentence with "."; 60 words always hold one.
  RunningServer r;
  ASSERT_EQ(r.start("{name: syn, kind: synthetic, tokens_per_second: 0, answer_tokens: 60}"), "");
  auto& client = r.client;
  const std::string& auth = r.auth;
  auto complete = [&](const std::string& extra) {
    const std::string body = R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}])" + extra + "}";
    EXPECT_TRUE(client->send(make_request("POST", "/v1/chat/completions", body, auth)));
    auto answer = client->read_response(30);
    EXPECT_TRUE(answer.has_value());
    return answer ? *answer : http::testing::ClientResponse{};
  };
  auto plain = complete("");
  ASSERT_EQ(plain.status, 200) << plain.body;
  json p = json::parse(plain.body);
  EXPECT_NE(p["choices"][0]["message"]["content"].get<std::string>().find('.'), std::string::npos);
  EXPECT_EQ(p["usage"]["completion_tokens"], 60);

  auto stopped = complete(R"(,"stop":[".", "never-seen"])");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  json a = json::parse(stopped.body);
  const std::string content = a["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());
  EXPECT_EQ(content.find('.'), std::string::npos) << content;
  EXPECT_EQ(a["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(a["usage"]["completion_tokens"].get<int>(), 60);

  // Streamed: no chunk carries the stop text; the finish chunk says stop.
  auto streamed = complete(R"(,"stream":true,"stop":".")");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_EQ(streamed.body.find("\"content\":\".\""), std::string::npos);
  EXPECT_NE(streamed.body.find("\"finish_reason\":\"stop\""), std::string::npos) << streamed.body;
  std::size_t at = 0;
  while ((at = streamed.body.find("\"content\":\"", at)) != std::string::npos) {
    at += 11;
    std::size_t end = streamed.body.find('"', at);
    EXPECT_EQ(streamed.body.substr(at, end - at).find('.'), std::string::npos) << streamed.body;
  }

  auto bad = complete(R"(,"stop":["a","b","c","d","e"])");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["param"], "stop");
}

}  // namespace
}  // namespace chatscale::engine
