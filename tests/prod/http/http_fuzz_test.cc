// A seeded fuzz run: a few thousand random and mutated requests from several client threads. Every
// connection must end (the server answers or closes once the client stops sending), every answer must
// be a well-formed status line with an expected status, and afterwards the server still serves.
// CHATSCALE_FUZZ_SEED overrides the seed; the run stops early at a wall-clock budget (it never fails
// for being slow).
#include "prod/http/http_server.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "prod/http/responses.h"
#include "tests/prod/http/test_client.h"

namespace chatscale::http {
namespace {

using testing::eventually;
using testing::make_request;
using testing::RunningServer;
using testing::TestClient;

constexpr int kCases = 3000;
constexpr int kThreads = 4;
constexpr double kBudgetSeconds = 90;

std::vector<std::string> corpus() {
  return {
      make_request("GET", "/echo"),
      make_request("POST", "/echo", "{\"content\": \"hello\"}", "Content-Type: application/json\r\n"),
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n",
      make_request("GET", "/conversations/c1/messages/m2?limit=10&cursor=a%20b"),
      make_request("DELETE", "/conversations/c1/messages/m2"),
      make_request("HEAD", "/echo"),
      "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      make_request("GET", "/stream"),
      make_request("GET", "/throw"),
      make_request("POST", "/echo", "body", "Expect: 100-continue\r\n"),
      "GET http://example.com/echo?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
      make_request("GET", "/echo") + make_request("POST", "/echo", "second"),
      make_request("GET", "/echo", "", "Cookie: a=b\r\nAccept: */*\r\nUser-Agent: fuzz\r\n"),
  };
}

std::string random_bytes(std::mt19937_64& rng) {
  std::string s(rng() % 600, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

struct Tally {
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> cases{0};
  std::atomic<int> answered{0};
  std::map<int, int> statuses;  // guarded by mu
  void fail(std::string what) {
    std::lock_guard lock(mu);
    if (failures.size() < 20) failures.push_back(std::move(what));
  }
};

// Every answer on the connection must start with an HTTP/1.1 status line and an expected status.
void check_answer(const std::string& bytes, Tally& tally, int index) {
  static const std::set<int> kExpected = {100, 200, 400, 404, 405, 408, 413, 431, 500};
  if (bytes.empty()) return;
  if (bytes.rfind("HTTP/1.1 ", 0) != 0 || bytes.size() < 12) {
    tally.fail("case " + std::to_string(index) + ": not a status line");
    return;
  }
  int status = std::atoi(bytes.c_str() + 9);
  if (kExpected.count(status) == 0) tally.fail("case " + std::to_string(index) + ": status " + std::to_string(status));
  tally.answered++;
  std::lock_guard lock(tally.mu);
  tally.statuses[status]++;
}

void run_case(int port, const std::string& request, std::mt19937_64& rng, Tally& tally, int index) {
  auto client = TestClient::connect(port);
  if (!client) {
    tally.fail("case " + std::to_string(index) + ": connect refused");
    return;
  }
  std::size_t split = request.empty() ? 0 : static_cast<std::size_t>(rng() % (request.size() + 1));
  client->send(std::string_view(request).substr(0, split));
  client->send(std::string_view(request).substr(split));
  if (rng() % 10 == 0) {
    client->close_abortive();  // vanish without reading
    return;
  }
  client->shutdown_write();
  if (!client->wait_closed(20)) tally.fail("case " + std::to_string(index) + ": the server did not close");
  check_answer(client->buffered() + client->received_after_close(), tally, index);
  tally.cases++;
}

Router fuzz_router() {
  Router router;
  auto echo = [](HttpRequest& req, ResponseWriter& w) {
    w.respond(json_response(200, {{"path", req.path}, {"body", req.body}, {"params", req.params}}));
  };
  router.add("GET", "/echo", echo);
  router.add("POST", "/echo", echo);
  router.add("GET", "/conversations/{id}/messages/{message_id}", echo);
  router.add("GET", "/throw", [](HttpRequest&, ResponseWriter&) { throw std::runtime_error("x"); });
  router.add("GET", "/stream", [](HttpRequest&, ResponseWriter& w) {
    HttpResponse head;
    head.content_type = "text/event-stream";
    w.begin_stream(head);
    w.write(sse_event("a\nb"));
    w.end_stream();
  });
  return router;
}

TEST(HttpFuzzTest, RandomAndMutatedRequestsNeverBreakTheServer) {
  std::uint64_t seed = 0x5eed2024;
  if (const char* env = std::getenv("CHATSCALE_FUZZ_SEED")) seed = std::strtoull(env, nullptr, 10);
  Router router = fuzz_router();
  HttpServerOptions options;
  options.io_threads = 2;
  options.max_header_bytes = 2048;
  options.max_body_bytes = 4096;
  options.read_timeout_s = 5;
  options.write_timeout_s = 5;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  const std::vector<std::string> seeds = corpus();
  Tally tally;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kBudgetSeconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
      for (int i = t; i < kCases && std::chrono::steady_clock::now() < deadline; i += kThreads) {
        std::string request = rng() % 5 == 0 ? random_bytes(rng) : testing::mutate_request(seeds[rng() % seeds.size()], rng);
        if (rng() % 8 == 0) request = seeds[rng() % seeds.size()];  // some stay valid
        run_case(server.port(), request, rng, tally, i);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& f : tally.failures) ADD_FAILURE() << f << " (seed " << seed << ")";
  std::printf("fuzz: seed %llu, %d cases closed by the server, %d answered\n",
              static_cast<unsigned long long>(seed), tally.cases.load(), tally.answered.load());
  for (const auto& [status, count] : tally.statuses) std::printf("fuzz: first answer %d: %d cases\n", status, count);
  EXPECT_GT(tally.cases.load(), 100);
  EXPECT_GT(tally.answered.load(), 0);

  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("POST", "/echo", "still here")));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("still here"), std::string::npos);
  client.reset();
  EXPECT_TRUE(eventually([&] { return server.server().connections() == 0 && server.server().streams() == 0; }, 30));
}

}  // namespace
}  // namespace chatscale::http
