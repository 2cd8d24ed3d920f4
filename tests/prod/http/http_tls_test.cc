// TLS: a self-signed certificate made in the test, a client that verifies it, requests and streams
// over TLS, and clients the server must turn away.
#include "prod/http/http_server.h"

#include <atomic>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "prod/http/responses.h"
#include "prod/runtime/real_clock.h"
#include "tests/prod/http/test_client.h"

namespace chatscale::http {
namespace {

using testing::eventually;
using testing::make_request;
using testing::RunningServer;
using testing::SseParser;
using testing::TempDir;
using testing::TestClient;

class HttpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    ASSERT_TRUE(testing::write_self_signed_certificate(cert_, key_));
    router_.add("GET", "/whoami", [](HttpRequest& req, ResponseWriter& w) {
      w.respond(json_response(200, {{"tls", req.tls}}));
    });
    router_.add("GET", "/events", [](HttpRequest&, ResponseWriter& w) {
      HttpResponse head;
      head.content_type = "text/event-stream";
      w.begin_stream(head);
      w.write(sse_event("one\ntwo", "delta", "1"));
      w.write(sse_event("three"));
      w.end_stream();
    });
    router_.add("GET", "/idle", [this](HttpRequest&, ResponseWriter& w) {
      HttpResponse head;
      head.content_type = "text/event-stream";
      w.begin_stream(head);
      w.write(sse_event("first"));
      RealClock clock;
      double deadline = clock.now() + 20;
      while (!w.client_gone() && clock.now() < deadline) clock.sleep_until(clock.now() + 0.002);
      gone_seen_ = w.client_gone();
      idle_finished_ = true;
    });
  }

  HttpServerOptions tls_options() const {
    HttpServerOptions options;
    options.io_threads = 2;
    options.read_timeout_s = 20;
    options.tls_cert_file = cert_;
    options.tls_key_file = key_;
    return options;
  }

  TempDir dir_;
  std::string cert_;
  std::string key_;
  Router router_;
  std::atomic<bool> gone_seen_{false};
  std::atomic<bool> idle_finished_{false};
};

TEST_F(HttpTlsTest, VerifiedClientGetsResponsesAndStreamsOnOneConnection) {
  RunningServer server(router_, tls_options());
  ASSERT_TRUE(server.ok()) << server.start_status().to_string();
  EXPECT_TRUE(server.server().tls());
  std::string error;
  auto client = TestClient::connect_tls(server.port(), cert_, &error);
  ASSERT_TRUE(client) << error;
  ASSERT_TRUE(client->send(make_request("GET", "/whoami")));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(nlohmann::json::parse(r->body)["tls"], true);

  ASSERT_TRUE(client->send(make_request("GET", "/events")));
  auto head = client->read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  SseParser parser;
  std::vector<testing::SseEvent> events;
  while (true) {
    auto chunk = client->read_chunk();
    ASSERT_TRUE(chunk);
    if (chunk->empty()) break;
    for (auto& e : parser.feed(*chunk)) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "one\ntwo");
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[1].data, "three");

  // The watch on the stream was stood down cleanly: the TLS connection carries another request.
  ASSERT_TRUE(client->send(make_request("GET", "/whoami")));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTlsTest, ClientLeavingMidStreamIsNoticed) {
  RunningServer server(router_, tls_options());
  ASSERT_TRUE(server.ok());
  std::string error;
  auto client = TestClient::connect_tls(server.port(), cert_, &error);
  ASSERT_TRUE(client) << error;
  ASSERT_TRUE(client->send(make_request("GET", "/idle")));
  ASSERT_TRUE(client->read_head());
  ASSERT_TRUE(client->read_chunk());
  client->close();  // TCP close without close_notify
  ASSERT_TRUE(eventually([&] { return idle_finished_.load(); }, 30));
  EXPECT_TRUE(gone_seen_.load());
}

TEST_F(HttpTlsTest, UntrustedOrPlainClientsAreTurnedAwayAndTheServerGoesOn) {
  RunningServer server(router_, tls_options());
  ASSERT_TRUE(server.ok());
  // A client that trusts another certificate fails verification.
  std::string other_cert = dir_.path() + "/other.pem";
  ASSERT_TRUE(testing::write_self_signed_certificate(other_cert, dir_.path() + "/other-key.pem"));
  std::string error;
  EXPECT_FALSE(TestClient::connect_tls(server.port(), other_cert, &error));
  EXPECT_NE(error.find("verify"), std::string::npos) << error;
  // Plain HTTP to the TLS port gets no HTTP answer.
  auto plain = TestClient::connect(server.port());
  ASSERT_TRUE(plain);
  ASSERT_TRUE(plain->send(make_request("GET", "/whoami")));
  EXPECT_TRUE(plain->wait_closed());
  EXPECT_EQ(plain->received_after_close().find("HTTP/1.1 200"), std::string::npos);
  // A verified client is still served.
  auto good = TestClient::connect_tls(server.port(), cert_, &error);
  ASSERT_TRUE(good) << error;
  ASSERT_TRUE(good->send(make_request("GET", "/whoami")));
  auto r = good->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTlsTest, StartFailsOnMissingOrMismatchedFiles) {
  HttpServerOptions missing = tls_options();
  missing.tls_cert_file = dir_.path() + "/absent.pem";
  HttpServer a(missing, router_);
  EXPECT_EQ(a.start().code(), StatusCode::kInvalidArgument);

  HttpServerOptions half = tls_options();
  half.tls_key_file.clear();
  HttpServer b(half, router_);
  EXPECT_EQ(b.start().code(), StatusCode::kInvalidArgument);

  std::string other_key = dir_.path() + "/other-key.pem";
  ASSERT_TRUE(testing::write_self_signed_certificate(dir_.path() + "/other.pem", other_key));
  HttpServerOptions mismatched = tls_options();
  mismatched.tls_key_file = other_key;
  HttpServer c(mismatched, router_);
  EXPECT_FALSE(c.start().is_ok());
}

}  // namespace
}  // namespace chatscale::http
