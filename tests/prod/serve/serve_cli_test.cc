// The `chatscale serve` process itself: --help, exit 2 with "file:line: field: problem" for a bad
// configuration, a run that prints `listening on HOST:PORT`, answers over HTTP and drains to exit 0 on
// SIGTERM; TLS with a self-signed certificate; a seeded fuzz run of mutated API requests.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/prod/http/test_client.h"
#include "tests/prod/serve/serve_process.h"

namespace chatscale::serve {
namespace {

namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

using http::testing::ClientResponse;
using http::testing::make_request;
using http::testing::SseEvent;
using http::testing::SseParser;
using http::testing::TestClient;
using testing::ServeProcess;

class ServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("serve-cli-test-" + std::to_string(getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write_config(const std::string& text) {
    auto path = (dir_ / "serve.yaml").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ServeCli, HelpAndBadConfiguration) {
  ServeProcess help({"serve", "--help"}, (dir_ / "err").string());
  EXPECT_NE(help.read_line().find("chatscale serve"), std::string::npos);
  EXPECT_EQ(help.wait_exit(), 0);

  std::string config = write_config("listen: {port: 99999}\nsecrets: {}\nbackends: []\n");
  ServeProcess bad({"serve", "--config", config}, (dir_ / "err").string());
  EXPECT_EQ(bad.wait_exit(), 2);
  std::string err = bad.stderr_text();
  EXPECT_NE(err.find(config + ":1: listen.port: must be between 0 and 65535"), std::string::npos) << err;

  ServeProcess missing({"serve"}, (dir_ / "err").string());
  EXPECT_EQ(missing.wait_exit(), 2);
}

TEST_F(ServeCli, ServesAndDrainsOnSigterm) {
  const std::string hex(64, 'a');
  std::string config = write_config("listen: {host: 127.0.0.1, port: 8080}\nsecrets: {jwt_secret: \"" + hex +
                                    "\", api_key_pepper: \"" + hex +
                                    "\"}\nbackends: [{name: synthetic, kind: synthetic}]\n");
  ServeProcess server({"serve", "--config", config, "--port", "0"}, (dir_ / "err").string());
  const int port = server.listening_port();
  ASSERT_NE(port, 0) << server.stderr_text();
  EXPECT_NE(port, 8080) << "--port 0 overrides listen.port";

  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/healthz", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  EXPECT_EQ(res.result_int(), 200u);
  socket.close();

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
  std::string err = server.stderr_text();
  EXPECT_NE(err.find("synthetic backend: generated text for tests and load tests only"), std::string::npos) << err;
  EXPECT_NE(err.find("NOT durable"), std::string::npos) << err;
  EXPECT_NE(err.find("SIGTERM: draining"), std::string::npos) << err;
  EXPECT_EQ(err.find(hex), std::string::npos) << "no secret in the logs";
}

// In-memory stores, a zero-delay synthetic backend, fast password hashing, and extra top-level YAML.
std::string quick_config(const std::string& extra = "") {
  const std::string hex(64, 'b');
  return extra + "listen: {host: 127.0.0.1, port: 0}\nsecrets: {jwt_secret: \"" + hex +
         "\", api_key_pepper: \"" + hex +
         "\"}\nbackends: [{name: synthetic, kind: synthetic, tokens_per_second: 0, first_token_ms: 0, "
         "answer_tokens: 8}]\nauth: {password_hash: minimum}\n";
}

TEST_F(ServeCli, ServesOverTlsWithASelfSignedCertificate) {
  const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  ASSERT_TRUE(http::testing::write_self_signed_certificate(cert, key));
  ServeProcess server({"serve", "--config", write_config(quick_config("tls: {cert: " + cert + ", key: " + key + "}\n"))},
                      (dir_ / "err").string());
  const int port = server.listening_port();
  ASSERT_NE(port, 0) << server.stderr_text();

  std::string error;
  auto client = TestClient::connect_tls(port, cert, &error);
  ASSERT_TRUE(client) << error;
  ASSERT_TRUE(client->send(make_request("POST", "/auth/register", R"({"email": "tls@example.com", "password": "a long password"})",
                                        "Content-Type: application/json\r\n")));
  auto registered = client->read_response();
  ASSERT_TRUE(registered);
  ASSERT_EQ(registered->status, 201) << registered->body;
  const std::string token = nlohmann::json::parse(registered->body)["access_token"];
  // An OpenAI-style streamed completion over the same TLS connection, parsed event by event.
  ASSERT_TRUE(client->send(make_request(
      "POST", "/v1/chat/completions", R"({"model": "default", "stream": true, "messages": [{"role": "user", "content": "hi"}]})",
      "Content-Type: application/json\r\nAuthorization: Bearer " + token + "\r\n")));
  auto head = client->read_head();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  SseParser parser;
  std::vector<SseEvent> events;
  while (auto chunk = client->read_chunk()) {
    if (chunk->empty()) break;
    for (auto& e : parser.feed(*chunk)) events.push_back(e);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(events.front().data)["object"], "chat.completion.chunk");
  EXPECT_EQ(events.back().data, "[DONE]");

  // Plain HTTP to the TLS port gets no HTTP answer, and the server goes on.
  auto plain = TestClient::connect(port);
  ASSERT_TRUE(plain);
  ASSERT_TRUE(plain->send(make_request("GET", "/healthz")));
  auto refused = plain->read_response(5);
  EXPECT_TRUE(!refused || refused->status >= 400);
  auto again = TestClient::connect_tls(port, cert, &error);
  ASSERT_TRUE(again) << error;
  ASSERT_TRUE(again->send(make_request("GET", "/healthz")));
  auto health = again->read_response();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.stderr_text();
}

// Seeded mutations of valid API requests (auth, conversations, messages, OpenAI completions) sent to
// the serve process: no answer is a 5xx, and afterwards the process is alive and serves.
// CHATSCALE_FUZZ_SEED overrides the seed; a wall-clock budget ends the run early (never a failure).
TEST_F(ServeCli, MutatedApiRequestsGetClientErrorsAndTheServerStaysUp) {
  ServeProcess server({"serve", "--config", write_config(quick_config())}, (dir_ / "err").string());
  const int port = server.listening_port();
  ASSERT_NE(port, 0) << server.stderr_text();
  auto once = [&](const std::string& request) -> std::optional<ClientResponse> {
    auto c = TestClient::connect(port);
    if (!c || !c->send(request)) return std::nullopt;
    c->shutdown_write();
    return c->read_response(5);
  };
  const std::string json = "Content-Type: application/json\r\n";
  auto registered = once(make_request("POST", "/auth/register", R"({"email": "fuzz@example.com", "password": "a long password"})", json));
  ASSERT_TRUE(registered);
  ASSERT_EQ(registered->status, 201);
  const std::string auth = json + "Authorization: Bearer " + std::string(nlohmann::json::parse(registered->body)["access_token"]) + "\r\n";
  auto created = once(make_request("POST", "/conversations", R"({"title": "fuzz"})", auth));
  ASSERT_TRUE(created);
  const std::string conversation = nlohmann::json::parse(created->body)["id"];
  const std::vector<std::string> seeds = {
      make_request("POST", "/auth/login", R"({"email": "fuzz@example.com", "password": "a long password"})", json),
      make_request("POST", "/auth/register", R"({"email": "x@example.com", "password": "another long one"})", json),
      make_request("GET", "/me", "", auth),
      make_request("GET", "/conversations?limit=5", "", auth),
      make_request("PATCH", "/conversations/" + conversation, R"({"title": "renamed"})", auth),
      make_request("GET", "/conversations/" + conversation + "/messages?limit=2&cursor=abc", "", auth),
      make_request("POST", "/conversations/" + conversation + "/messages", R"({"content": "hello", "max_tokens": 4})",
                   auth + "Idempotency-Key: k1\r\n"),
      make_request("POST", "/v1/chat/completions",
                   R"({"model": "default", "stream": false, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})", auth),
      make_request("POST", "/v1/chat/completions",
                   R"({"stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}]})",
                   auth),
  };
  std::uint64_t seed = 20261128;
  if (const char* env = std::getenv("CHATSCALE_FUZZ_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::mt19937_64 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int cases = 0, answered = 0;
  std::vector<std::string> server_errors;
  for (; cases < 4000 && std::chrono::steady_clock::now() < deadline; ++cases) {
    const std::string request = http::testing::mutate_request(seeds[rng() % seeds.size()], rng);
    auto response = once(request);
    ASSERT_TRUE(server.running()) << "case " << cases << " (seed " << seed << ") stopped the server:\n"
                                  << request << "\n" << server.stderr_text();
    if (!response) continue;  // a request the server cannot frame may end with a close
    ++answered;
    if (response->status >= 500 && server_errors.size() < 5) server_errors.push_back(request.substr(0, 300));
  }
  EXPECT_TRUE(server_errors.empty()) << server_errors.size() << " requests got a 5xx (seed " << seed
                                     << "), e.g.:\n" << server_errors.front();
  EXPECT_GT(answered, cases / 2) << "most mutated requests are still HTTP and get an answer";
  auto health = once(make_request("GET", "/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  std::cout << "[ fuzz     ] " << cases << " cases, " << answered << " answered, seed " << seed << "\n";
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

}  // namespace
}  // namespace chatscale::serve
