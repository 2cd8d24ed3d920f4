// `chatscale serve` on real servers: the serve.yaml that scripts/services writes (PostgreSQL primary + 2
// streaming replicas, Redis), the service assembled in process and driven over loopback sockets.
// Proves: answers are durable across a restart of the service, message contents are encrypted at rest,
// read-your-writes holds through the replicas, two service instances share one rate limit through
// Redis, and a generation running on one instance is resumed, stopped and deleted through the other.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <random>
#include <sstream>
#include <thread>

#include "prod/serve/chat_server.h"
#include "tests/prod/support/local_services.h"

namespace chatscale::serve {
namespace {

namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using chatscale::testing::LocalServices;
using chatscale::testing::LocalServicesEnvironment;

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment());

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

Reply call(int port, const std::string& method, const std::string& target, const std::string& body = "",
           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  bhttp::read(socket, buffer, parser);
  Reply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = parser.get().body();
  return reply;
}

// One service instance on the LocalServices configuration, running until destroyed.
class Instance {
 public:
  // `tokens_per_second` 0: answers at once; otherwise answers of `answer_tokens` at that rate, with
  // checkpoints every 0.1 s (so other instances see the answer grow and stops are polled that often).
  explicit Instance(const std::string& rate_limits_yaml = "", double tokens_per_second = 0, int answer_tokens = 12) {
    auto config = load_serve_config(LocalServicesEnvironment::services().serve_yaml_path());
    EXPECT_TRUE(config.is_ok()) << config.status().message();
    if (!config.is_ok()) return;
    config->auth.password_hash = PasswordHashCost::kMinimum;  // tests only: fast hashing
    config->backends.at(0).tokens_per_second = tokens_per_second;
    config->backends.at(0).first_token_ms = 0;
    config->backends.at(0).answer_tokens = answer_tokens;
    if (tokens_per_second > 0) {
      config->service.checkpoint_interval_s = 0.1;
      config->service.checkpoint_tokens = 1000;
    }
    if (!rate_limits_yaml.empty()) config->tiers = {Tier{"free", 3, 1'000'000, 8, 0, 0, 0}};
    auto server = ChatServer::create(std::move(config).value(), notices_);
    EXPECT_TRUE(server.is_ok()) << server.status().message();
    if (!server.is_ok()) return;
    server_ = std::move(server).value();
    EXPECT_TRUE(server_->start().is_ok());
    runner_ = std::thread([this] { server_->run(); });
  }
  ~Instance() {
    if (!runner_.joinable()) return;
    server_->shutdown(true);
    runner_.join();
  }
  int port() const { return server_ ? server_->port() : 0; }
  std::string notices() const { return notices_.str(); }

 private:
  std::ostringstream notices_;
  std::unique_ptr<ChatServer> server_;
  std::thread runner_;
};

std::vector<std::pair<std::string, std::string>> bearer(const std::string& token, const std::string& read_token = "") {
  std::vector<std::pair<std::string, std::string>> h = {{"authorization", "Bearer " + token}};
  if (!read_token.empty()) h.emplace_back("x-chatscale-read-token", read_token);
  return h;
}

std::string done_read_token(const std::string& sse) {
  auto at = sse.rfind("event: done\ndata: ");
  if (at == std::string::npos) return "";
  auto data = sse.substr(at + 18, sse.find('\n', at + 18) - at - 18);
  return nlohmann::json::parse(data).value("read_token", "");
}

TEST(ServePg, AnswersAreDurableEncryptedAndReadYourWrites) {
  const std::string secret = "The launch code is 4-8-15-16-23-42";
  std::string conversation, read_token, email = "durable@example.com";
  {
    Instance a;
    ASSERT_NE(a.port(), 0);
    EXPECT_NE(a.notices().find("PostgreSQL primary"), std::string::npos);
    EXPECT_EQ(call(a.port(), "GET", "/readyz").status, 200);
    auto reg = call(a.port(), "POST", "/auth/register", nlohmann::json{{"email", email}, {"password", "a long password"}}.dump());
    ASSERT_EQ(reg.status, 201) << reg.body;
    std::string token = reg.json()["access_token"];
    auto created = call(a.port(), "POST", "/conversations", R"({"title": "secret plans"})", bearer(token));
    ASSERT_EQ(created.status, 201);
    conversation = created.json()["id"];
    // Read your writes: the conversation is visible at once with the token, whatever the replicas do.
    EXPECT_EQ(call(a.port(), "GET", "/conversations/" + conversation, "",
                   bearer(token, created.headers["x-chatscale-read-token"])).status,
              200);
    auto sent = call(a.port(), "POST", "/conversations/" + conversation + "/messages",
                     nlohmann::json{{"content", secret}}.dump(), bearer(token, created.headers["x-chatscale-read-token"]));
    ASSERT_EQ(sent.status, 200) << sent.body;
    read_token = done_read_token(sent.body);
    ASSERT_FALSE(read_token.empty());
    auto history = call(a.port(), "GET", "/conversations/" + conversation + "/messages", "", bearer(token, read_token));
    ASSERT_EQ(history.status, 200);
    ASSERT_EQ(history.json()["data"].size(), 2u) << "the answer is visible to the next read";
    EXPECT_EQ(history.json()["data"][0]["content"], secret);
  }
  // At rest: sealed, no plaintext.
  auto stored = LocalServices::psql(LocalServicesEnvironment::services().primary_dsn(), "SELECT content FROM messages");
  ASSERT_TRUE(stored.is_ok()) << stored.status().message();
  EXPECT_EQ(stored->find("4-8-15-16-23-42"), std::string::npos);
  EXPECT_NE(stored->find("cs1."), std::string::npos);
  // A new instance (a restarted service) finds everything.
  Instance b;
  auto login = call(b.port(), "POST", "/auth/login", nlohmann::json{{"email", email}, {"password", "a long password"}}.dump());
  ASSERT_EQ(login.status, 200) << login.body;
  // The token of the last write still holds: this read sees it even through a lagging replica.
  auto history = call(b.port(), "GET", "/conversations/" + conversation + "/messages", "",
                      bearer(login.json()["access_token"], read_token));
  ASSERT_EQ(history.status, 200) << history.body;
  ASSERT_EQ(history.json()["data"].size(), 2u);
  EXPECT_EQ(history.json()["data"][0]["content"], secret);
  EXPECT_EQ(history.json()["data"][1]["status"], "complete");
}

TEST(ServePg, TwoInstancesShareOneRateLimitThroughRedis) {
  Instance a("limited"), b("limited");
  ASSERT_NE(a.port(), 0);
  ASSERT_NE(b.port(), 0);
  EXPECT_NE(a.notices().find("Redis"), std::string::npos);
  auto reg = call(a.port(), "POST", "/auth/register",
                  nlohmann::json{{"email", "shared@example.com"}, {"password", "a long password"}}.dump());
  ASSERT_EQ(reg.status, 201);
  std::string token = reg.json()["access_token"];
  auto created = call(a.port(), "POST", "/conversations", "", bearer(token));
  std::string id = created.json()["id"];
  std::string read_token = created.headers["x-chatscale-read-token"];
  auto send = [&](int port) {
    return call(port, "POST", "/conversations/" + id + "/messages", R"({"content": "hi"})", bearer(token, read_token))
        .status;
  };
  EXPECT_EQ(send(a.port()), 200);
  EXPECT_EQ(send(b.port()), 200);
  EXPECT_EQ(send(a.port()), 200);
  EXPECT_EQ(send(b.port()), 429) << "the fourth message in a minute is refused by either instance";
}

// The text an SSE body's deltas add up to (a replace delta starts over), and its done event's data.
std::pair<std::string, nlohmann::json> assemble(const std::string& sse) {
  std::string text;
  nlohmann::json done;
  std::size_t at = 0;
  while ((at = sse.find("event: ", at)) != std::string::npos) {
    const std::string event = sse.substr(at + 7, sse.find('\n', at) - at - 7);
    const auto data_at = sse.find("data: ", at) + 6;
    auto data = nlohmann::json::parse(sse.substr(data_at, sse.find('\n', data_at) - data_at), nullptr, false);
    if (event == "delta") {
      if (data.value("replace", false)) text.clear();
      text += data.value("content", "");
    } else if (event == "done") {
      done = data;
    }
    at = data_at;
  }
  return {text, done};
}

// The user message and answer of the conversation's latest exchange once the answer's row is
// stored, asked of `port` until the deadline ("" when it never appeared).
std::string wait_for_answer_row(int port, const std::string& token, const std::string& conversation, int exchanges) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto page = call(port, "GET", "/conversations/" + conversation + "/messages", "", bearer(token)).json();
    if (page.is_object() && page["data"].size() >= static_cast<std::size_t>(2 * exchanges))
      return page["data"][2 * exchanges - 2]["id"];
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

TEST(ServePg, ResumeStopAndDeleteReachAGenerationOnAnotherInstance) {
  // Answers of 7.5 s: a wide margin for the stop and the delete to land mid-answer on a loaded machine.
  Instance a("", 40, 300), b("", 40, 300);
  ASSERT_NE(a.port(), 0);
  ASSERT_NE(b.port(), 0);
  auto reg = call(a.port(), "POST", "/auth/register",
                  nlohmann::json{{"email", "roaming-" + std::to_string(std::random_device{}()) + "@example.com"},
                                 {"password", "a long password"}}
                      .dump());
  ASSERT_EQ(reg.status, 201);
  std::string token = reg.json()["access_token"];
  std::string id = call(a.port(), "POST", "/conversations", "", bearer(token)).json()["id"];
  const std::string messages = "/conversations/" + id + "/messages";

  // Started on A; B resumes it while A generates, and gets the whole answer.
  Reply on_a;
  std::thread sender([&] { on_a = call(a.port(), "POST", messages, R"({"content": "hi"})", bearer(token)); });
  const std::string first = wait_for_answer_row(a.port(), token, id, 1);
  ASSERT_FALSE(first.empty());
  Reply on_b = call(b.port(), "GET", messages + "/" + first + "/stream", "",
                    {{"authorization", "Bearer " + token}, {"last-event-id", first + ":1"}});
  sender.join();
  ASSERT_EQ(on_a.status, 200);
  ASSERT_EQ(on_b.status, 200) << on_b.body;
  auto [a_text, a_done] = assemble(on_a.body);
  auto [b_text, b_done] = assemble(on_b.body);
  EXPECT_FALSE(a_text.empty());
  EXPECT_EQ(b_text, a_text) << "B followed A's answer to its end";
  EXPECT_EQ(b_done["finish_reason"], a_done["finish_reason"]);
  EXPECT_EQ(on_b.body.find("id: " + first + ":1\n"), std::string::npos) << "ids go on after Last-Event-ID";

  // Stopped through B: A's generation ends as cancelled, and B answers with the partial answer.
  std::thread sender2([&] { on_a = call(a.port(), "POST", messages, R"({"content": "again"})", bearer(token)); });
  const std::string second = wait_for_answer_row(a.port(), token, id, 2);
  ASSERT_FALSE(second.empty());
  Reply stopped = call(b.port(), "POST", messages + "/" + second + "/stop", "", bearer(token));
  sender2.join();
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(stopped.json()["message"]["finish_reason"], "cancelled");
  EXPECT_EQ(assemble(on_a.body).second["finish_reason"], "cancelled") << on_a.body.substr(on_a.body.size() - 300);

  // Deleted through B mid-answer: A's answer ends as cancelled, not lost, and nothing is left.
  std::thread sender3([&] { on_a = call(a.port(), "POST", messages, R"({"content": "third"})", bearer(token)); });
  ASSERT_FALSE(wait_for_answer_row(a.port(), token, id, 3).empty());
  Reply deleted = call(b.port(), "DELETE", "/conversations/" + id, "", bearer(token));
  EXPECT_EQ(deleted.status, 204);
  sender3.join();
  EXPECT_EQ(assemble(on_a.body).second["finish_reason"], "cancelled");
  const std::string metrics = call(a.port(), "GET", "/metrics").body;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("chatscale_messages_lost_total", 0) != 0) continue;
    EXPECT_EQ(line.substr(line.rfind(' ') + 1), "0") << line;
  }
  EXPECT_EQ(call(a.port(), "GET", "/conversations/" + id, "", bearer(token, deleted.headers["x-chatscale-read-token"]))
                .status,
            404);
}

}  // namespace
}  // namespace chatscale::serve
