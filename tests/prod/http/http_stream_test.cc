// Streamed (SSE) responses: event-by-event delivery, slow clients, clients that leave, graceful stop.
#include "prod/http/http_server.h"

#include <atomic>
#include <cstdio>
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
using testing::SseEvent;
using testing::SseParser;
using testing::TestClient;

HttpResponse event_stream_head() {
  HttpResponse head;
  head.content_type = "text/event-stream";
  return head;
}

// Suspends the calling task (RealClock) until `flag` is set or `seconds` pass; true if it was set.
bool wait_flag(const std::atomic<bool>& flag, double seconds = 20) {
  RealClock clock;
  double deadline = clock.now() + seconds;
  while (!flag.load()) {
    if (clock.now() > deadline) return false;
    clock.sleep_until(clock.now() + 0.002);
  }
  return true;
}

HttpServerOptions stream_options() {
  HttpServerOptions options;
  options.io_threads = 1;
  options.read_timeout_s = 20;
  options.write_timeout_s = 20;
  return options;
}

// Reads chunks until the parser yields one event (or the stream ends / times out).
std::optional<SseEvent> next_event(TestClient& client, SseParser& parser, std::vector<SseEvent>& pending) {
  while (pending.empty()) {
    auto chunk = client.read_chunk();
    if (!chunk || chunk->empty()) return std::nullopt;
    for (auto& e : parser.feed(*chunk)) pending.push_back(std::move(e));
  }
  SseEvent e = pending.front();
  pending.erase(pending.begin());
  return e;
}

// The handler writes an event only after the client has parsed the previous one, so the events cannot
// have been buffered until the end of the response.
TEST(HttpStreamTest, SseEventsArriveOneByOneThenTheConnectionIsReused) {
  std::atomic<int> acked{0};
  std::atomic<bool> handler_waited_too_long{false};
  Router router;
  router.add("GET", "/events", [&](HttpRequest&, ResponseWriter& w) {
    ASSERT_TRUE(w.begin_stream(event_stream_head()));
    for (int i = 0; i < 3; ++i) {
      if (i == 1) w.write(sse_comment("keep-alive"));
      EXPECT_TRUE(w.write(sse_event("line one\nline two " + std::to_string(i), "delta", std::to_string(i))));
      RealClock clock;
      double deadline = clock.now() + 20;
      while (acked.load() <= i && clock.now() < deadline) clock.sleep_until(clock.now() + 0.002);
      if (acked.load() <= i) handler_waited_too_long = true;
    }
    w.end_stream();
  });
  router.add("GET", "/after", [](HttpRequest&, ResponseWriter& w) { w.respond(json_response(200, {{"ok", 1}})); });
  RunningServer server(router, stream_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/events")));
  auto head = client->read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->header("cache-control"), "no-cache");
  EXPECT_EQ(head->header("x-accel-buffering"), "no");
  EXPECT_FALSE(head->header("content-length"));
  EXPECT_TRUE(eventually([&] { return server.server().streams() == 1; }));
  SseParser parser;
  std::vector<SseEvent> pending;
  for (int i = 0; i < 3; ++i) {
    auto event = next_event(*client, parser, pending);
    ASSERT_TRUE(event) << "event " << i;
    EXPECT_EQ(event->id, std::to_string(i));
    EXPECT_EQ(event->event, "delta");
    EXPECT_EQ(event->data, "line one\nline two " + std::to_string(i));
    acked.store(i + 1);
  }
  auto last = client->read_chunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");  // the last chunk
  EXPECT_EQ(parser.comments(), 1);
  EXPECT_FALSE(handler_waited_too_long.load());
  EXPECT_TRUE(eventually([&] { return server.server().streams() == 0; }));
  // Keep-alive after a stream: the same connection answers the next request.
  ASSERT_TRUE(client->send(make_request("GET", "/after")));
  auto after = client->read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

// A client that never reads: the server buffers at most max_stream_buffer_bytes beyond what the
// kernel takes, then drops it; write() turns false and the handler goes on. Meanwhile the single I/O
// thread serves another client.
TEST(HttpStreamTest, SlowClientIsCutOffWhileOthersAreServed) {
  std::atomic<bool> flood_started{false};
  std::atomic<bool> flood_cut{false};
  std::atomic<bool> gone_after_cut{false};
  std::atomic<bool> release{false};
  std::atomic<long> written{0};
  Router router;
  router.add("GET", "/flood", [&](HttpRequest&, ResponseWriter& w) {
    w.begin_stream(event_stream_head());
    flood_started = true;
    const std::string chunk = sse_event(std::string(16384, 'x'));
    for (int i = 0; i < 16384; ++i) {  // at most 256 MiB, far past any socket buffer
      if (!w.write(chunk)) {
        flood_cut = true;
        gone_after_cut = w.client_gone();
        break;
      }
      written += static_cast<long>(chunk.size());
    }
    wait_flag(release);  // the handler's own work goes on after the client was cut off
  });
  router.add("GET", "/hello", [](HttpRequest&, ResponseWriter& w) { w.respond(json_response(200, {{"hi", 1}})); });
  HttpServerOptions options = stream_options();
  options.max_stream_buffer_bytes = 65536;
  options.write_timeout_s = 600;  // the cut must come from the buffer bound, not from a write timeout
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  auto slow = TestClient::connect(server.port(), /*rcvbuf=*/4096);
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->send(make_request("GET", "/flood")));
  ASSERT_TRUE(eventually([&] { return flood_started.load(); }));
  auto other = TestClient::connect(server.port());
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->send(make_request("GET", "/hello")));
  auto r = other->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(eventually([&] { return flood_cut.load(); }, 60));
  EXPECT_TRUE(gone_after_cut.load());
  EXPECT_LT(written.load(), 256L << 20);
  std::printf("slow client: cut off after %ld bytes written\n", written.load());
  release = true;
  EXPECT_TRUE(slow->wait_closed(30));  // after what was already sent, the connection ends
  EXPECT_TRUE(eventually([&] { return server.server().streams() == 0 && server.server().connections() == 1; }));
}

// The client leaves while the stream is idle (no writes): client_gone() turns true without a write,
// and the next write() returns false. Both an orderly close and a reset.
TEST(HttpStreamTest, ClientDisconnectMidStreamIsNoticedWhileIdle) {
  for (bool abortive : {false, true}) {
    std::atomic<bool> finished{false};
    std::atomic<bool> gone_seen{false};
    std::atomic<bool> late_write{true};
    Router router;
    router.add("GET", "/idle", [&](HttpRequest&, ResponseWriter& w) {
      w.begin_stream(event_stream_head());
      w.write(sse_event("first"));
      RealClock clock;
      double deadline = clock.now() + 20;
      while (!w.client_gone() && clock.now() < deadline) clock.sleep_until(clock.now() + 0.002);
      gone_seen = w.client_gone();
      late_write = w.write(sse_event("late"));
      finished = true;
    });
    RunningServer server(router, stream_options());
    ASSERT_TRUE(server.ok());
    auto client = TestClient::connect(server.port());
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send(make_request("GET", "/idle")));
    ASSERT_TRUE(client->read_head());
    auto first = client->read_chunk();
    ASSERT_TRUE(first);
    EXPECT_NE(first->find("data: first"), std::string::npos);
    if (abortive) {
      client->close_abortive();
    } else {
      client->close();
    }
    ASSERT_TRUE(eventually([&] { return finished.load(); }, 30)) << "abortive=" << abortive;
    EXPECT_TRUE(gone_seen.load()) << "abortive=" << abortive;
    EXPECT_FALSE(late_write.load()) << "abortive=" << abortive;
    EXPECT_TRUE(eventually([&] { return server.server().streams() == 0 && server.server().connections() == 0; }));
  }
}

// stop(drain): new connections are refused and idle ones closed at once, while the stream in flight
// runs to its end; then run() returns.
TEST(HttpStreamTest, GracefulStopDrainsAnInFlightStreamAndRefusesNewConnections) {
  std::atomic<bool> release{false};
  std::atomic<bool> second_written{false};
  Router router;
  router.add("GET", "/drain", [&](HttpRequest&, ResponseWriter& w) {
    w.begin_stream(event_stream_head());
    w.write(sse_event("one"));
    wait_flag(release);
    second_written = w.write(sse_event("two"));
    w.end_stream();
  });
  router.add("GET", "/hello", [](HttpRequest&, ResponseWriter& w) { w.respond(json_response(200, {{"hi", 1}})); });
  HttpServerOptions options = stream_options();
  options.drain_timeout_s = 60;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  int port = server.port();
  auto streaming = TestClient::connect(port);
  auto idle = TestClient::connect(port);
  ASSERT_TRUE(streaming && idle);
  ASSERT_TRUE(idle->send(make_request("GET", "/hello")));
  ASSERT_TRUE(idle->read_response());
  ASSERT_TRUE(streaming->send(make_request("GET", "/drain")));
  ASSERT_TRUE(streaming->read_head());
  SseParser parser;
  std::vector<SseEvent> pending;
  auto one = next_event(*streaming, parser, pending);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->data, "one");

  server.server().stop(true);
  EXPECT_TRUE(idle->wait_closed());
  EXPECT_TRUE(eventually([&] { return !TestClient::connect(port); }));
  EXPECT_EQ(server.server().streams(), 1);

  release = true;
  auto two = next_event(*streaming, parser, pending);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->data, "two");
  auto last = streaming->read_chunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");
  EXPECT_TRUE(second_written.load());
  EXPECT_TRUE(streaming->wait_closed());
  EXPECT_TRUE(server.join());
}

// A stream that would never end is cut when the drain time is up; its writes then fail.
TEST(HttpStreamTest, DrainDeadlineClosesStreamsThatDoNotEnd) {
  std::atomic<bool> started{false};
  std::atomic<bool> write_failed{false};
  Router router;
  router.add("GET", "/forever", [&](HttpRequest&, ResponseWriter& w) {
    w.begin_stream(event_stream_head());
    started = true;
    RealClock clock;
    double deadline = clock.now() + 60;
    while (clock.now() < deadline) {
      if (!w.write(sse_comment("heartbeat"))) {
        write_failed = true;
        return;
      }
      clock.sleep_until(clock.now() + 0.01);
    }
  });
  HttpServerOptions options = stream_options();
  options.drain_timeout_s = 0.2;
  RunningServer server(router, options);
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/forever")));
  ASSERT_TRUE(client->read_head());
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  server.server().stop(true);
  EXPECT_TRUE(server.join());
  EXPECT_TRUE(write_failed.load());
  EXPECT_TRUE(client->wait_closed());
}

// A handler that throws after its stream began: the response is cut short (no last chunk), the
// server goes on.
TEST(HttpStreamTest, HandlerThrowingMidStreamCutsOnlyThatConnection) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan cannot follow Boost.Coroutine's stack switches: at a throw on a task stack it skips clearing
  // the shadow of the frames it unwinds, and the next cleanup trips over their stale use-after-scope
  // marks (a false positive ASan warns about). Unwinding on task stacks needs the runtime to announce
  // its stack switches to ASan; until then this test runs in the Release build only.
  GTEST_SKIP() << "exceptions unwinding task stacks are not supported under AddressSanitizer";
#endif
  Router router;
  router.add("GET", "/boom", [](HttpRequest&, ResponseWriter& w) {
    w.begin_stream(event_stream_head());
    w.write(sse_event("partial"));
    throw std::runtime_error("boom");
  });
  router.add("GET", "/hello", [](HttpRequest&, ResponseWriter& w) { w.respond(json_response(200, {{"hi", 1}})); });
  RunningServer server(router, stream_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(make_request("GET", "/boom")));
  ASSERT_TRUE(client->read_head());
  auto chunk = client->read_chunk();
  ASSERT_TRUE(chunk);
  EXPECT_NE(chunk->find("partial"), std::string::npos);
  EXPECT_FALSE(client->read_chunk());  // closed without the last chunk
  auto other = TestClient::connect(server.port());
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->send(make_request("GET", "/hello")));
  auto r = other->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// HTTP/1.0 has no chunked encoding: the stream is the body up to the close.
TEST(HttpStreamTest, Http10StreamIsDelimitedByClose) {
  Router router;
  router.add("GET", "/events", [](HttpRequest&, ResponseWriter& w) {
    w.begin_stream(event_stream_head());
    w.write(sse_event("a"));
    w.write(sse_event("b"));
    w.end_stream();
  });
  RunningServer server(router, stream_options());
  ASSERT_TRUE(server.ok());
  auto client = TestClient::connect(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /events HTTP/1.0\r\n\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("transfer-encoding"));
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(r->body, sse_event("a") + sse_event("b"));
}

}  // namespace
}  // namespace chatscale::http
