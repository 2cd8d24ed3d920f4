// The server over real sockets on 127.0.0.1: routing, keep-alive, limits, errors, suspending
// handlers, the connection bound.
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

using testing::ClientResponse;
using testing::eventually;
using testing::make_request;
using testing::RunningServer;
using testing::TestClient;

// Echoes what the server parsed, as JSON.
void echo(HttpRequest& req, ResponseWriter& w) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : req.headers) headers[name] = value;
  w.respond(json_response(200, {{"method", req.method},
                                {"path", req.path},
                                {"query", req.query},
                                {"params", req.params},
                                {"headers", headers},
                                {"body", req.body},
                                {"remote", req.remote},
                                {"tls", req.tls}}));
}

Router basic_router() {
  Router router;
  router.add("GET", "/echo", echo);
  router.add("POST", "/echo", echo);
  router.add("GET", "/conversations/{id}/messages/{message_id}", echo);
  router.add("DELETE", "/conversations/{id}/messages/{message_id}", echo);
  router.add("GET", "/throw", [](HttpRequest&, ResponseWriter&) { throw std::runtime_error("secret contents"); });
  router.add("GET", "/silent", [](HttpRequest&, ResponseWriter&) {});
  return router;
}

HttpServerOptions small_options() {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  options.max_header_bytes = 4096;
  options.max_body_bytes = 1024;
  options.read_timeout_s = 10;
  options.write_timeout_s = 10;
  return options;
}

nlohmann::json body_json(const ClientResponse& r) { return nlohmann::json::parse(r.body, nullptr, false); }

TEST(HttpServerTest, RoutesAndBindsParametersOverASocket) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok()) << server.start_status().to_string();
  ASSERT_GT(server.port(), 0);
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/conversations/c%201/messages/m2?x=1&y=a+b", "",
                                        "X-Custom: Value\r\n")));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("server"), "chatscale");
  auto body = body_json(*r);
  EXPECT_EQ(body["params"]["id"], "c 1");
  EXPECT_EQ(body["params"]["message_id"], "m2");
  EXPECT_EQ(body["path"], "/conversations/c 1/messages/m2");
  EXPECT_EQ(body["query"]["y"], "a b");
  EXPECT_EQ(body["headers"]["x-custom"], "Value");
  EXPECT_EQ(body["tls"], false);
  EXPECT_EQ(body["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u);

  ASSERT_TRUE(client->send(make_request("GET", "/no/such/path")));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(body_json(*r)["error"]["type"], "not_found_error");

  ASSERT_TRUE(client->send(make_request("PUT", "/conversations/1/messages/2", "x")));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, DELETE");
  EXPECT_EQ(body_json(*r)["error"]["code"], "method_not_allowed");
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("POST", "/echo", "first")));
  auto first = client->read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(body_json(*first)["body"], "first");
  EXPECT_FALSE(first->header("connection").has_value());  // HTTP/1.1 keeps alive by default
  ASSERT_TRUE(client->send(make_request("POST", "/echo", "second")));
  auto second = client->read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(body_json(*second)["body"], "second");
  EXPECT_EQ(server.server().connections(), 1);
  // Two pipelined requests come back in order.
  ASSERT_TRUE(client->send(make_request("POST", "/echo", "p1") + make_request("POST", "/echo", "p2", "Connection: close\r\n")));
  auto p1 = client->read_response();
  auto p2 = client->read_response();
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(body_json(*p1)["body"], "p1");
  EXPECT_EQ(body_json(*p2)["body"], "p2");
  EXPECT_EQ(p2->header("connection"), "close");
  EXPECT_TRUE(client->wait_closed());
  EXPECT_TRUE(eventually([&] { return server.server().connections() == 0; }));
}

TEST(HttpServerTest, Http10ClosesAndHeadHasNoBody) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto head = TestClient::connect(server.port());
  ASSERT_TRUE(head);
  ASSERT_TRUE(head->send(make_request("HEAD", "/echo") + make_request("GET", "/echo")));
  auto r = head->read_head();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(std::stoul(r->header("content-length").value_or("0")), 0u);
  // No body followed the HEAD answer: the next bytes are the GET's status line.
  auto next = head->read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(body_json(*next)["method"], "GET");

  auto old = TestClient::connect(server.port());
  ASSERT_TRUE(old);
  ASSERT_TRUE(old->send("GET /echo HTTP/1.0\r\n\r\n"));
  auto r10 = old->read_response();
  ASSERT_TRUE(r10);
  EXPECT_EQ(r10->status, 200);
  EXPECT_EQ(r10->header("connection"), "close");
  EXPECT_TRUE(old->wait_closed());
}

TEST(HttpServerTest, OversizedHeadersAre431) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/echo", "", "X-Big: " + std::string(8000, 'a') + "\r\n")));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(body_json(*r)["error"]["code"], "request_header_fields_too_large");
  EXPECT_TRUE(client->wait_closed());
}

TEST(HttpServerTest, OversizedBodyIs413ByLengthAndByChunks) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto by_length = TestClient::connect(server.port());
  ASSERT_TRUE(by_length);
  ASSERT_TRUE(by_length->send(make_request("POST", "/echo", std::string(5000, 'b'))));
  auto r = by_length->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(body_json(*r)["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(by_length->wait_closed());

  auto chunked = TestClient::connect(server.port());
  ASSERT_TRUE(chunked);
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) req += "12c\r\n" + std::string(300, 'c') + "\r\n";
  req += "0\r\n\r\n";
  ASSERT_TRUE(chunked->send(req));
  r = chunked->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);

  // Within the limit, a chunked body is accepted and de-chunked.
  auto fine = TestClient::connect(server.port());
  ASSERT_TRUE(fine);
  ASSERT_TRUE(fine->send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  r = fine->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(*r)["body"], "abcde");
}

TEST(HttpServerTest, MalformedRequestLineIs400) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET /echo HTTP/9.9\r\n\r\n", "GET\r\n\r\n", "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    auto client = TestClient::connect(server.port());
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send(bad));
    auto r = client->read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(body_json(*r)["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(client->wait_closed());
  }
}

TEST(HttpServerTest, TruncatedBodyThenCloseLeavesTheServerServing) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < 20; ++i) {
    auto client = TestClient::connect(server.port());
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nonly a little"));
    if (i % 2 == 0) {
      client->close_abortive();
    } else {
      client->shutdown_write();
      EXPECT_TRUE(client->wait_closed());
      EXPECT_EQ(client->received_after_close(), "");  // the client went away: nothing to answer
    }
  }
  auto good = TestClient::connect(server.port());
  ASSERT_TRUE(good);
  ASSERT_TRUE(good->send(make_request("GET", "/echo")));
  auto r = good->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  good.reset();
  EXPECT_TRUE(eventually([&] { return server.server().connections() == 0; }));
}

TEST(HttpServerTest, StartedRequestTimesOutWith408AndIdleConnectionClosesQuietly) {
  Router router = basic_router();
  HttpServerOptions options = small_options();
  options.read_timeout_s = 0.3;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  auto started = TestClient::connect(server.port());
  ASSERT_TRUE(started);
  ASSERT_TRUE(started->send("GET /echo HTTP/1.1\r\nHost: x\r\n"));  // no blank line: never finishes
  auto r = started->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(started->wait_closed());

  auto idle = TestClient::connect(server.port());
  ASSERT_TRUE(idle);
  EXPECT_TRUE(idle->wait_closed());
  EXPECT_EQ(idle->received_after_close(), "");

  // After a completed request, the idle keep-alive connection closes quietly too.
  auto kept = TestClient::connect(server.port());
  ASSERT_TRUE(kept);
  ASSERT_TRUE(kept->send(make_request("GET", "/echo")));
  ASSERT_TRUE(kept->read_response());
  EXPECT_TRUE(kept->wait_closed());
  EXPECT_EQ(kept->received_after_close(), "");
}

TEST(HttpServerTest, ExpectContinueGetsAnInterimAnswer) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  ASSERT_TRUE(client->wait_for_bytes("HTTP/1.1 100 Continue\r\n\r\n"));
  ASSERT_TRUE(client->send("body"));
  auto r = client->read_response();  // skips the 100
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_json(*r)["body"], "body");
}

TEST(HttpServerTest, ThrowingHandlerGets500AndTheServerStaysUp) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/throw")));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(body_json(*r)["error"]["type"], "server_error");
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
  // The same connection goes on, and a handler that answers nothing is a 500 too.
  ASSERT_TRUE(client->send(make_request("GET", "/silent")));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(client->send(make_request("GET", "/echo")));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A handler suspended on RealClock sleeps does not hold the only I/O thread: another connection is
// served meanwhile, and it is that connection that wakes the first.
TEST(HttpServerTest, SuspendedHandlerDoesNotBlockOtherConnectionsOnOneThread) {
  std::atomic<bool> go{false};
  Router router;
  router.add("GET", "/wait", [&](HttpRequest&, ResponseWriter& w) {
    RealClock clock;
    double deadline = clock.now() + 20;
    while (!go.load() && clock.now() < deadline) clock.sleep_until(clock.now() + 0.005);
    w.respond(json_response(200, {{"woken", go.load()}}));
  });
  router.add("GET", "/go", [&](HttpRequest&, ResponseWriter& w) {
    go.store(true);
    w.respond(json_response(200, {{"ok", true}}));
  });
  HttpServerOptions options = small_options();
  options.io_threads = 1;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  auto waiter = TestClient::connect(server.port());
  auto goer = TestClient::connect(server.port());
  ASSERT_TRUE(waiter && goer);
  ASSERT_TRUE(waiter->send(make_request("GET", "/wait")));
  ASSERT_TRUE(goer->send(make_request("GET", "/go")));
  auto go_response = goer->read_response();
  ASSERT_TRUE(go_response);
  EXPECT_EQ(go_response->status, 200);
  auto wait_response = waiter->read_response(30);
  ASSERT_TRUE(wait_response);
  EXPECT_EQ(body_json(*wait_response)["woken"], true);
}

TEST(HttpServerTest, ConnectionsBeyondTheBoundGet503) {
  Router router = basic_router();
  HttpServerOptions options = small_options();
  options.max_connections = 2;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  auto a = TestClient::connect(server.port());
  auto b = TestClient::connect(server.port());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(eventually([&] { return server.server().connections() == 2; }));
  auto c = TestClient::connect(server.port());
  ASSERT_TRUE(c);
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body_json(*r)["error"]["type"], "server_overloaded");
  EXPECT_TRUE(c->wait_closed());
  // The admitted connections still work; once one leaves, a new one is admitted.
  ASSERT_TRUE(a->send(make_request("GET", "/echo")));
  ASSERT_TRUE(a->read_response());
  b.reset();
  ASSERT_TRUE(eventually([&] { return server.server().connections() == 1; }));
  auto d = TestClient::connect(server.port());
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->send(make_request("GET", "/echo")));
  r = d->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, StartReportsBadConfiguration) {
  Router bad_router;
  bad_router.add("GET", "nope", echo);
  HttpServer bad_routes(small_options(), bad_router);
  EXPECT_EQ(bad_routes.start().code(), StatusCode::kInvalidArgument);

  Router router = basic_router();
  RunningServer first(router, small_options());
  ASSERT_TRUE(first.ok());
  HttpServerOptions same_port = small_options();
  same_port.port = first.port();
  HttpServer second(same_port, router);
  EXPECT_FALSE(second.start().is_ok());

  HttpServerOptions bad_host = small_options();
  bad_host.host = "999.1.1.1";
  HttpServer third(bad_host, router);
  EXPECT_FALSE(third.start().is_ok());
}

TEST(HttpServerTest, StopClosesIdleConnectionsAndRefusesNewOnes) {
  Router router = basic_router();
  RunningServer server(router, small_options());
  ASSERT_TRUE(server.ok());
  int port = server.port();
  auto idle = TestClient::connect(port);
  ASSERT_TRUE(idle);
  ASSERT_TRUE(idle->send(make_request("GET", "/echo")));
  ASSERT_TRUE(idle->read_response());
  server.stop(true);
  EXPECT_TRUE(idle->wait_closed());
  EXPECT_FALSE(TestClient::connect(port));
  EXPECT_EQ(server.server().connections(), 0);
}

}  // namespace
}  // namespace chatscale::http
