// The `chatscale engine` process on a tiny random GGUF: prints `listening on HOST:PORT`, answers a
// streamed /v1/chat/completions with OpenAI's chunk sequence (role chunk, content chunks, finish
// chunk, usage chunk, [DONE]) and a non-streamed one with usage, lists its model, answers /healthz,
// honours a stop string taken from a greedy answer (the answer ends just before it, finish stop),
// refuses bad input with exit 2 (an unknown --device, a missing model; --device cuda where it cannot
// run: engine_device_test) and drains on SIGTERM with exit 0.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/prod/engine/server/stop_pick.h"
#include "tests/prod/engine/server/tiny_gguf.h"
#include "tests/prod/http/test_client.h"
#include "tests/prod/serve/serve_process.h"

namespace chatscale::engine {
namespace {

using http::testing::make_request;
using http::testing::TestClient;
using nlohmann::json;
using chatscale::serve::testing::ServeProcess;

std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    std::size_t end = body.find('\n', at);
    out.push_back(body.substr(at + 6, end - at - 6));
    at = end;
  }
  return out;
}

TEST(EngineCli, ServesStreamedChatCompletions) {
  testing::TinyGguf model;
  ASSERT_TRUE(model.status().is_ok()) << model.status().message();
  const std::string err = model.path() + ".err";
  ServeProcess p({"engine", "--model", model.path(), "--port", "0", "--threads", "1", "--kv-blocks", "64"}, err);
  const int port = p.listening_port();
  ASSERT_GT(port, 0) << p.stderr_text();

  auto client = TestClient::connect(port);
  ASSERT_NE(client, nullptr);
  const std::string body = R"({"model":"tiny","stream":true,"stream_options":{"include_usage":true},)"
                           R"("max_tokens":6,"temperature":0,"messages":[{"role":"user","content":"Hi"}]})";
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", body, "content-type: application/json\r\n")));
  auto response = client->read_response(60);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_NE(response->header("content-type").value_or("").find("text/event-stream"), std::string::npos);
  std::vector<std::string> data = sse_data(response->body);
  ASSERT_GE(data.size(), 4u) << response->body;
  EXPECT_EQ(data.back(), "[DONE]");
  json first = json::parse(data.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["model"], "tiny");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  json usage_chunk = json::parse(data[data.size() - 2]);
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_GT(usage_chunk["usage"]["prompt_tokens"].get<int>(), 0);
  json finish = json::parse(data[data.size() - 3]);
  const std::string reason = finish["choices"][0]["finish_reason"];
  EXPECT_TRUE(reason == "length" || reason == "stop") << reason;
  if (reason == "length") {
    EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 6);
  }
  for (std::size_t i = 1; i + 3 < data.size(); ++i) {
    json c = json::parse(data[i]);
    EXPECT_TRUE(c["choices"][0]["delta"]["content"].is_string());
    EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  }

  // Not streamed, on the same keep-alive connection.
  const std::string plain = R"({"max_tokens":5,"temperature":0,"messages":[{"role":"user","content":"Hi"}]})";
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", plain)));
  auto answer = client->read_response(60);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200) << answer->body;
  json a = json::parse(answer->body);
  EXPECT_EQ(a["object"], "chat.completion");
  EXPECT_EQ(a["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(a["usage"]["prompt_tokens"], usage_chunk["usage"]["prompt_tokens"]);

  // A stop string from the middle of a longer greedy answer ends the answer just before it.
  const std::string longer = R"({"max_tokens":24,"temperature":0,"messages":[{"role":"user","content":"Hi"}])";
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", longer + "}")));
  auto full = client->read_response(60);
  ASSERT_TRUE(full.has_value());
  const std::string full_text = json::parse(full->body)["choices"][0]["message"]["content"];
  testing::StopPick pick = testing::pick_stop(full_text);
  ASSERT_FALSE(pick.stop.empty()) << full_text;
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions",
                                        longer + ",\"stop\":" + json(pick.stop).dump() + "}")));
  auto cut = client->read_response(60);
  ASSERT_TRUE(cut.has_value());
  json c = json::parse(cut->body);
  EXPECT_EQ(c["choices"][0]["message"]["content"], pick.expected) << pick.stop << " in " << full_text;
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");

  // A bad request is an OpenAI error body naming the param.
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", longer + R"(,"n":2})")));
  auto bad_n = client->read_response(10);
  ASSERT_TRUE(bad_n.has_value());
  EXPECT_EQ(bad_n->status, 400);
  EXPECT_EQ(json::parse(bad_n->body)["error"]["param"], "n");
  ASSERT_TRUE(client->send(make_request("POST", "/v1/chat/completions", R"({"messages":[]})")));
  auto bad = client->read_response(10);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(json::parse(bad->body).contains("error"));

  ASSERT_TRUE(client->send(make_request("GET", "/v1/models")));
  auto models = client->read_response(10);
  ASSERT_TRUE(models.has_value());
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "tiny");
  ASSERT_TRUE(client->send(make_request("GET", "/healthz")));
  auto health = client->read_response(10);
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  client->close();

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("engine: SIGTERM: draining"), std::string::npos) << p.stderr_text();
}

TEST(EngineCli, BadInputExitsWithTwo) {
  testing::TinyGguf model;
  ASSERT_TRUE(model.status().is_ok());
  ServeProcess device({"engine", "--model", model.path(), "--device", "tpu"}, model.path() + ".err1");
  EXPECT_EQ(device.wait_exit(), 2);
  EXPECT_NE(device.stderr_text().find("--device"), std::string::npos) << device.stderr_text();
  ServeProcess missing({"engine", "--model", model.path() + ".missing"}, model.path() + ".err2");
  EXPECT_EQ(missing.wait_exit(), 2);
  ServeProcess none({"engine"}, model.path() + ".err3");
  EXPECT_EQ(none.wait_exit(), 2);
}

}  // namespace
}  // namespace chatscale::engine
