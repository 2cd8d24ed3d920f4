// The `chatscale serve` process on real servers (PostgreSQL primary + 2 streaming replicas, Redis, from
// scripts/services), driven over HTTP:
// - kill -9 in the middle of a streamed answer, then a restart: the acknowledged user message is
//   there verbatim, and the answer holds the text checkpointed before the kill, marked partial with
//   finish reason error by the restarted instance;
// - read-your-writes while both replicas replay nothing (pg_wal_replay_pause): the read token the
//   server hands out after a write routes the next read to a server that has it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/prod/http/test_client.h"
#include "tests/prod/serve/serve_process.h"
#include "tests/prod/support/local_services.h"

namespace chatscale::serve {
namespace {

using chatscale::testing::LocalServices;
using chatscale::testing::LocalServicesEnvironment;
using http::testing::ClientResponse;
using http::testing::make_request;
using http::testing::SseEvent;
using http::testing::SseParser;
using http::testing::TestClient;
using testing::ServeProcess;

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment());

class ServeCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("serve-crash-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The services' serve.yaml (database, Redis, secrets) with this test's backend and settings.
  std::string config(const std::string& rest) {
    std::string base = testing::slurp(LocalServicesEnvironment::services().serve_yaml_path());
    base = base.substr(0, base.find("\nbackends:") + 1);
    const auto path = (dir_ / "serve.yaml").string();
    std::ofstream(path) << base << rest << "auth: {password_hash: minimum}\n";
    return path;
  }
  std::string err_path(const std::string& name) const { return (dir_ / name).string(); }

  static std::optional<ClientResponse> call(int port, const std::string& method, const std::string& target,
                                            const std::string& body = "", const std::string& headers = "") {
    auto c = TestClient::connect(port);
    if (!c || !c->send(make_request(method, target, body, "Content-Type: application/json\r\n" + headers)))
      return std::nullopt;
    return c->read_response(30);
  }
  static std::string auth(const std::string& token, const std::string& read_token = "") {
    std::string h = "Authorization: Bearer " + token + "\r\n";
    if (!read_token.empty()) h += "X-Chatscale-Read-Token: " + read_token + "\r\n";
    return h;
  }
  // Registers a user; its access token.
  static std::string register_user(int port, const std::string& email) {
    auto r = call(port, "POST", "/auth/register", nlohmann::json{{"email", email}, {"password", "a long password"}}.dump());
    if (!r || r->status != 201) return "";
    return nlohmann::json::parse(r->body)["access_token"];
  }

  std::filesystem::path dir_;
};

TEST_F(ServeCrash, KillNineMidStreamThenRestartLosesNoAcknowledgedMessage) {
  // A slow answer (20 tokens/s, 400 tokens) checkpointed every 4 tokens; answers left streaming for
  // 2 s by a dead instance are ended by the next one.
  const std::string path =
      config("backends:\n  - {name: synthetic, kind: synthetic, tokens_per_second: 20, first_token_ms: 0, "
             "answer_tokens: 400}\nservice: {checkpoint_tokens: 4, checkpoint_interval_s: 0.25}\n"
             "limits: {orphan_after_s: 2}\n");
  const std::string question = "Remember this exactly: 'O'Brien'; DROP TABLE messages; -- \xc3\xa9t\xc3\xa9";
  std::string token, conversation, received;
  {
    ServeProcess first({"serve", "--config", path}, err_path("first.err"));
    const int port = first.listening_port();
    ASSERT_NE(port, 0) << first.stderr_text();
    token = register_user(port, "crash@example.com");
    ASSERT_FALSE(token.empty());
    auto created = call(port, "POST", "/conversations", R"({"title": "before the crash"})", auth(token));
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201);
    conversation = nlohmann::json::parse(created->body)["id"];

    auto stream = TestClient::connect(port);
    ASSERT_TRUE(stream);
    ASSERT_TRUE(stream->send(make_request("POST", "/conversations/" + conversation + "/messages",
                                          nlohmann::json{{"content", question}}.dump(),
                                          "Content-Type: application/json\r\n" +
                                              auth(token, *created->header("x-chatscale-read-token")))));
    auto head = stream->read_head();
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200);
    SseParser parser;
    bool acknowledged = false;
    int deltas = 0;
    while (deltas < 16) {
      auto chunk = stream->read_chunk();
      ASSERT_TRUE(chunk && !chunk->empty()) << "the stream ended before the kill";
      for (const SseEvent& e : parser.feed(*chunk)) {
        auto data = nlohmann::json::parse(e.data);
        if (e.event == "message" && data["message"]["role"] == "user") acknowledged = true;
        if (e.event != "delta") continue;
        ++deltas;
        received = data.value("replace", false) ? std::string(data["content"]) : received + std::string(data["content"]);
      }
    }
    ASSERT_TRUE(acknowledged) << "the stored user message is the stream's first event";
    EXPECT_EQ(first.kill_now(), 128 + SIGKILL);
  }

  ServeProcess second({"serve", "--config", path}, err_path("second.err"));
  const int port = second.listening_port();
  ASSERT_NE(port, 0) << second.stderr_text();
  nlohmann::json messages;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto listed = call(port, "GET", "/conversations/" + conversation + "/messages", "", auth(token));
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->status, 200) << listed->body;
    messages = nlohmann::json::parse(listed->body)["data"];
    if (messages.size() == 2 && messages[1]["status"] != "streaming") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(messages.size(), 2u) << messages.dump();
  EXPECT_EQ(messages[0]["role"], "user");
  EXPECT_EQ(messages[0]["content"], question);
  EXPECT_EQ(messages[0]["status"], "complete");
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_EQ(messages[1]["status"], "partial") << "the restarted instance marks the orphaned answer";
  EXPECT_EQ(messages[1]["finish_reason"], "error");
  const std::string stored = messages[1]["content"];
  EXPECT_FALSE(stored.empty()) << "the checkpointed text survives the kill";
  const bool consistent = received.rfind(stored, 0) == 0 || stored.rfind(received, 0) == 0;
  EXPECT_TRUE(consistent) << "stored and streamed text are one answer cut at two points:\nstored: " << stored
                          << "\nstreamed: " << received;
  EXPECT_NE(second.stderr_text().find("left streaming by a stopped instance as partial"), std::string::npos)
      << second.stderr_text();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(), 0) << second.stderr_text();
}

TEST_F(ServeCrash, ReadYourWritesOverHttpWhileTheReplicasReplayNothing) {
  const auto& services = LocalServicesEnvironment::services();
  ServeProcess server({"serve", "--config",
                       config("backends:\n  - {name: synthetic, kind: synthetic, tokens_per_second: 0, "
                              "first_token_ms: 0, answer_tokens: 6}\n")},
                      err_path("serve.err"));
  const int port = server.listening_port();
  ASSERT_NE(port, 0) << server.stderr_text();
  const std::string token = register_user(port, "lag@example.com");
  ASSERT_FALSE(token.empty());

  auto replay = [&](const std::string& fn) {
    for (int i = 0; i < LocalServices::kReplicas; ++i) {
      auto done = LocalServices::psql(services.replica_admin_dsn(i), "SELECT " + fn + "()");
      ASSERT_TRUE(done.is_ok()) << done.status().message();
    }
  };
  replay("pg_wal_replay_pause");
  auto created = call(port, "POST", "/conversations", R"({"title": "written while the replicas stand still"})", auth(token));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201);
  const std::string conversation = nlohmann::json::parse(created->body)["id"];
  auto sent = call(port, "POST", "/conversations/" + conversation + "/messages", R"({"content": "still there?"})",
                   auth(token, *created->header("x-chatscale-read-token")));
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  std::string read_token;
  SseParser parser;
  for (const SseEvent& e : parser.feed(sent->body))
    if (e.event == "done") read_token = nlohmann::json::parse(e.data).value("read_token", "");
  ASSERT_FALSE(read_token.empty()) << sent->body;

  // The replicas really do not have the conversation...
  for (int i = 0; i < LocalServices::kReplicas; ++i) {
    auto rows = LocalServices::psql(services.replica_dsn(i), "SELECT count(*) FROM conversations WHERE id = '" +
                                                                 conversation + "'");
    ASSERT_TRUE(rows.is_ok()) << rows.status().message();
    EXPECT_EQ(rows->substr(0, 1), "0") << "replica " << i << " replayed while paused";
  }
  // ...yet the reads that carry the token see every write.
  auto conv = call(port, "GET", "/conversations/" + conversation, "", auth(token, read_token));
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->status, 200) << conv->body;
  auto listed = call(port, "GET", "/conversations/" + conversation + "/messages", "", auth(token, read_token));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  auto data = nlohmann::json::parse(listed->body)["data"];
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0]["content"], "still there?");
  EXPECT_EQ(data[1]["status"], "complete");
  replay("pg_wal_replay_resume");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.stderr_text();
}

}  // namespace
}  // namespace chatscale::serve
