// `chatscale serve` assembled in process (ChatServer: in-memory stores, synthetic backend, the real
// HTTP server on a free loopback port) and driven through real sockets: accounts, a streamed message,
// resume after the client's socket closed mid-stream, the OpenAI-compatible endpoint, operations
// routes and metrics, and a graceful shutdown that lets a running stream finish.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <future>
#include <sstream>
#include <thread>

#include "prod/serve/chat_server.h"

namespace chatscale::serve {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

bhttp::request<bhttp::string_body> make_request(const std::string& method, const std::string& target,
                                                const std::string& body,
                                                const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

HttpReply exchange(int port, const std::string& method, const std::string& target, const std::string& body = "",
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::write(socket, make_request(method, target, body, headers));
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  bhttp::read(socket, buffer, parser);
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = parser.get().body();
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  return reply;
}

// Reads a streamed response until its body holds `events` SSE events, then closes the socket.
std::string read_events_then_leave(int port, const std::string& target, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers, int events) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::write(socket, make_request("POST", target, body, headers));
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  auto count = [&] {  // complete events: each starts with its id line and ends with a blank line
    const std::string& text = parser.get().body();
    int n = 0;
    for (std::size_t at = text.find("id: "); at != std::string::npos; at = text.find("\nid: ", at + 1))
      if (text.find("\n\n", at) != std::string::npos) ++n;
    return n;
  };
  while (!parser.is_done() && count() < events) bhttp::read_some(socket, buffer, parser);
  std::string got = parser.get().body();
  socket.close();
  return got;
}

struct Event {
  std::string id, event, data;
};
std::vector<Event> parse_events(const std::string& body) {
  std::vector<Event> out;
  std::istringstream in(body);
  std::string line;
  Event e;
  bool any = false;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (any) out.push_back(e);
      e = Event{};
      any = false;
    } else if (line[0] != ':') {
      auto colon = line.find(": ");
      std::string field = line.substr(0, colon), value = colon == std::string::npos ? "" : line.substr(colon + 2);
      any = true;
      if (field == "id") e.id = value;
      if (field == "event") e.event = value;
      if (field == "data") e.data += value;
    }
  }
  return out;
}

std::string deltas(const std::vector<Event>& events) {
  std::string text;
  for (const auto& e : events)
    if (e.event == "delta") text += nlohmann::json::parse(e.data)["content"].get<std::string>();
  return text;
}

class ServeE2e : public ::testing::Test {
 protected:
  void start(double tokens_per_second = 400, int answer_tokens = 24) {
    const std::string hex(64, 'a');
    std::string yaml = "listen: {host: 127.0.0.1, port: 0}\nio_threads: 2\nblocking_threads: 4\n"
                       "secrets: {jwt_secret: \"" + hex + "\", api_key_pepper: \"" + hex + "\"}\n"
                       "backends:\n  - {name: synthetic, kind: synthetic, tokens_per_second: " +
                       std::to_string(tokens_per_second) + ", first_token_ms: 5, answer_tokens: " +
                       std::to_string(answer_tokens) + "}\n"
                       "service: {model: default, heartbeat_interval_s: 0.5}\n"
                       "limits: {drain_timeout_s: 10}\nauth: {password_hash: minimum}\n";
    auto config = parse_serve_config(yaml, "e2e.yaml", [](const std::string&) { return std::optional<std::string>(); });
    ASSERT_TRUE(config.is_ok()) << config.status().message();
    auto server = ChatServer::create(std::move(config).value(), notices_);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->start().is_ok());
    port_ = server_->port();
    runner_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (runner_.joinable()) {
      server_->shutdown(true);
      runner_.join();
    }
  }
  std::string register_user(const std::string& email) {
    auto reply = exchange(port_, "POST", "/auth/register",
                          nlohmann::json{{"email", email}, {"password", "a long password"}}.dump());
    EXPECT_EQ(reply.status, 201) << reply.body;
    return reply.json().value("access_token", "");
  }
  std::vector<std::pair<std::string, std::string>> auth(const std::string& token) {
    return {{"authorization", "Bearer " + token}};
  }

  std::ostringstream notices_;
  std::unique_ptr<ChatServer> server_;
  std::thread runner_;
  int port_ = 0;
};

TEST_F(ServeE2e, AccountsConversationsStreamsAndOperations) {
  start();
  EXPECT_NE(notices_.str().find("NOT durable"), std::string::npos);
  EXPECT_NE(notices_.str().find("synthetic backend: generated text for tests and load tests only"), std::string::npos);
  EXPECT_EQ(exchange(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(exchange(port_, "GET", "/readyz").status, 200);

  std::string token = register_user("e2e@example.com");
  auto conversation = exchange(port_, "POST", "/conversations", R"({"title": "over sockets"})", auth(token));
  ASSERT_EQ(conversation.status, 201) << conversation.body;
  std::string id = conversation.json()["id"];

  auto sent = exchange(port_, "POST", "/conversations/" + id + "/messages", R"({"content": "Hello there"})", auth(token));
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.headers["content-type"].rfind("text/event-stream", 0), 0u);
  EXPECT_EQ(sent.headers["transfer-encoding"], "chunked");
  EXPECT_TRUE(sent.headers.count("x-ratelimit-remaining-requests"));
  auto events = parse_events(sent.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().event, "message");
  EXPECT_EQ(events.back().event, "done");
  auto done = nlohmann::json::parse(events.back().data);
  EXPECT_EQ(done["finish_reason"], "stop");
  EXPECT_EQ(done["usage"]["completion_tokens"], 24);

  auto history = exchange(port_, "GET", "/conversations/" + id + "/messages", "", auth(token));
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.json()["data"].size(), 2u);
  EXPECT_EQ(history.json()["data"][1]["content"], deltas(events));

  auto completion = exchange(port_, "POST", "/v1/chat/completions",
                             R"({"model": "default", "messages": [{"role": "user", "content": "Hi"}]})", auth(token));
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(completion.json()["object"], "chat.completion");
  EXPECT_EQ(completion.json()["usage"]["completion_tokens"], 24);
  auto chunks = exchange(port_, "POST", "/v1/chat/completions",
                         R"({"model": "default", "stream": true, "stream_options": {"include_usage": true},
                             "messages": [{"role": "user", "content": "Hi"}]})",
                         auth(token));
  ASSERT_EQ(chunks.status, 200);
  EXPECT_NE(chunks.body.find("\"object\":\"chat.completion.chunk\""), std::string::npos);
  EXPECT_EQ(chunks.body.substr(chunks.body.size() - 14), "data: [DONE]\n\n");

  EXPECT_EQ(exchange(port_, "GET", "/conversations/" + id, "", auth(register_user("other@example.com"))).status, 404);
  EXPECT_EQ(exchange(port_, "GET", "/me", "", {{"authorization", "Bearer nonsense"}}).status, 401);

  auto metrics = exchange(port_, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("chatscale_messages_total{mode=\"prod\",outcome=\"ok\",tier=\"free\"} 3"), std::string::npos)
      << "two completions and one conversation message, through the same flow";
  EXPECT_NE(metrics.body.find("route=\"POST /conversations/{id}/messages\""), std::string::npos);
}

TEST_F(ServeE2e, ResumeAfterTheSocketClosedMidStream) {
  start(/*tokens_per_second=*/100, /*answer_tokens=*/20);
  std::string token = register_user("resume@example.com");
  std::string id = exchange(port_, "POST", "/conversations", "", auth(token)).json()["id"];
  std::string partial = read_events_then_leave(port_, "/conversations/" + id + "/messages", R"({"content": "go"})",
                                               auth(token), 3);
  auto first = parse_events(partial);
  ASSERT_GE(first.size(), 3u);
  first.resize(3);
  std::string message_id = nlohmann::json::parse(first[0].data)["message"]["id"];

  auto headers = auth(token);
  headers.emplace_back("last-event-id", first.back().id);
  auto rest = exchange(port_, "GET", "/conversations/" + id + "/messages/" + message_id + "/stream", "", headers);
  ASSERT_EQ(rest.status, 200) << rest.body;
  auto more = parse_events(rest.body);
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(more.front().id, message_id + ":4");
  EXPECT_EQ(more.back().event, "done");
  first.insert(first.end(), more.begin(), more.end());
  auto history = exchange(port_, "GET", "/conversations/" + id + "/messages", "", auth(token));
  EXPECT_EQ(deltas(first), history.json()["data"][1]["content"]) << "exactly the stored answer, nothing doubled";
}

TEST_F(ServeE2e, GracefulShutdownLetsARunningStreamFinish) {
  start(/*tokens_per_second=*/40, /*answer_tokens=*/20);  // half a second of streaming
  std::string token = register_user("drain@example.com");
  std::string id = exchange(port_, "POST", "/conversations", "", auth(token)).json()["id"];
  auto streaming = std::async(std::launch::async, [&] {
    return exchange(port_, "POST", "/conversations/" + id + "/messages", R"({"content": "long one"})", auth(token));
  });
  // Once the generation runs, ask for a graceful stop.
  for (int i = 0; i < 1000 && server_->hub().running() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(server_->hub().running(), 1u);
  server_->shutdown(true);
  HttpReply reply = streaming.get();
  runner_.join();
  ASSERT_EQ(reply.status, 200);
  auto events = parse_events(reply.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "done");
  EXPECT_EQ(nlohmann::json::parse(events.back().data)["finish_reason"], "stop") << "the stream finished, not cut";
  EXPECT_EQ(server_->hub().running(), 0u);
  EXPECT_THROW(exchange(port_, "GET", "/healthz"), boost::system::system_error) << "no longer listening";
}

}  // namespace
}  // namespace chatscale::serve
