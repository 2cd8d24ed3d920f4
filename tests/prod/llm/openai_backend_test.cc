// OpenAiBackend against a fake OpenAI-compatible upstream in the same io_context: the request it
// sends, deltas and usage, finish reasons, HTTP errors and transport failures and how they map,
// deadlines, cancellation, admission, health checks, URL and configuration checks.
#include "prod/llm/openai_backend.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/prod/llm/upstream_test_util.h"

namespace chatscale::testing {
namespace {

using Kind = InferenceEvent::Kind;

class OpenAiBackendTest : public UpstreamTest {};

TEST_F(OpenAiBackendTest, StreamsDeltasAndUsageExactlyAndSendsAnOpenAiRequest) {
  // The second event is split across two HTTP chunks; the first chunk holds two events.
  std::string lo = content_chunk("lo");
  up_.push_reply(stream_reply({role_chunk() + content_chunk("Hel"), lo.substr(0, 17), lo.substr(17),
                               content_chunk(", world", "stop"), usage_chunk(21, 3), kSseDone}));
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto stream = backend->start(request());
    ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
    EXPECT_EQ(backend->load().in_flight, 1);
    Collected got = read_all(**stream, clock_);
    EXPECT_EQ(got.pieces, (std::vector<std::string>{"Hel", "lo", ", world"}));
    EXPECT_EQ(got.tokens, (std::vector<std::int64_t>{1, 1, 1}));
    ASSERT_TRUE(got.end.has_value()) << got.failure.to_string();
    EXPECT_EQ(got.end->kind, Kind::kDone);
    EXPECT_EQ(got.end->usage.prompt_tokens, 21);
    EXPECT_EQ(got.end->usage.completion_tokens, 3);
    EXPECT_EQ(got.end->finish_reason, FinishReason::kStop);
    EXPECT_EQ(backend->load().in_flight, 0);
    EXPECT_EQ((*stream)->next(clock_.now() + 1).status().code(), StatusCode::kFailedPrecondition);
  });
  ASSERT_EQ(up_.requests().size(), 1u);
  const RecordedRequest& sent = up_.requests()[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_EQ(sent.authorization, "Bearer sk-test");
  EXPECT_EQ(sent.content_type, "application/json");
  EXPECT_EQ(sent.accept, "text/event-stream");
  auto body = nlohmann::json::parse(sent.body);
  EXPECT_EQ(body["model"], "upstream-model");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.5);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], "You are terse.");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], "Say hello.");
  EXPECT_FALSE(body.contains("top_p") || body.contains("seed") || body.contains("stop")) << sent.body;
}

TEST_F(OpenAiBackendTest, ForwardsTopPSeedAndStop) {
  up_.push_reply(hello_reply());
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  InferenceRequest r = request();
  r.top_p = 0.25;
  r.seed = 1234567;
  r.stop = {"END", "\n\n"};
  run([&] {
    auto stream = backend->start(r);
    ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
    EXPECT_EQ(read_all(**stream, clock_).text(), "Hello, world!");
  });
  ASSERT_EQ(up_.requests().size(), 1u);
  auto body = nlohmann::json::parse(up_.requests()[0].body);
  EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.25);
  EXPECT_EQ(body["seed"], 1234567);
  EXPECT_EQ(body["stop"], (nlohmann::json{"END", "\n\n"}));
}

TEST_F(OpenAiBackendTest, PathPrefixRequestModelAndNoKeyWhenNoneIsConfigured) {
  up_.push_reply(hello_reply());
  auto config = config_for(up_);
  config.url = up_.url() + "/proxy/";
  config.model = "";
  config.api_key = "";
  auto backend = make(config);
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto stream = backend->start(request());
    ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
    EXPECT_EQ(read_all(**stream, clock_).text(), "Hello, world!");
  });
  ASSERT_EQ(up_.requests().size(), 1u);
  EXPECT_EQ(up_.requests()[0].target, "/proxy/v1/chat/completions");
  EXPECT_EQ(up_.requests()[0].authorization, "");
  EXPECT_EQ(nlohmann::json::parse(up_.requests()[0].body)["model"], "default");
}

TEST_F(OpenAiBackendTest, FinishReasonsMapAndUsageFallsBackToTheCount) {
  up_.push_reply(stream_reply({content_chunk("a"), content_chunk("b"), content_chunk("c", "length"), kSseDone}));
  up_.push_reply(stream_reply({content_chunk("x", "content_filter"), kSseDone}));
  // Some servers end the body after the finish reason without [DONE].
  up_.push_reply(stream_reply({content_chunk("y"), content_chunk("z", "stop")}));
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto length = backend->start(request(3));
    ASSERT_TRUE(length.is_ok()) << length.status().to_string();
    Collected a = read_all(**length, clock_);
    ASSERT_TRUE(a.end.has_value());
    EXPECT_EQ(a.end->finish_reason, FinishReason::kLength);
    EXPECT_EQ(a.end->usage.prompt_tokens, 9);  // the request's count: the upstream sent no usage
    EXPECT_EQ(a.end->usage.completion_tokens, 3);
    auto filtered = backend->start(request());
    ASSERT_TRUE(filtered.is_ok());
    Collected b = read_all(**filtered, clock_);
    ASSERT_TRUE(b.end.has_value());
    EXPECT_EQ(b.end->finish_reason, FinishReason::kContentFilter);
    auto no_done = backend->start(request());
    ASSERT_TRUE(no_done.is_ok());
    Collected c = read_all(**no_done, clock_);
    ASSERT_TRUE(c.end.has_value());
    EXPECT_EQ(c.end->kind, Kind::kDone);
    EXPECT_EQ(c.text(), "yz");
  });
}

TEST_F(OpenAiBackendTest, HttpErrorsAreRefusalsBeforeTheFirstTokenWithTheMappedCode) {
  struct Case {
    int status;
    std::string body;
    StatusCode code;
    std::string says;
  };
  std::vector<Case> cases = {
      {500, R"({"error":{"message":"engine crashed"}})", StatusCode::kUnavailable, "engine crashed"},
      {503, R"({"detail":"warming up"})", StatusCode::kUnavailable, "warming up"},
      {429, R"({"error":{"message":"too many requests"}})", StatusCode::kUnavailable, "too many requests"},
      {400, R"({"error":{"message":"context length exceeded"}})", StatusCode::kInvalidArgument, "context length"},
      {401, R"({"error":"bad key"})", StatusCode::kInternal, "bad key"},
      {404, "model not found", StatusCode::kNotFound, "model not found"},
      {504, "", StatusCode::kDeadlineExceeded, "504"},
  };
  for (const auto& c : cases) up_.push_reply(status_reply(c.status, c.body));
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    for (const auto& c : cases) {
      auto stream = backend->start(request());
      ASSERT_FALSE(stream.is_ok()) << c.status;
      EXPECT_EQ(stream.status().code(), c.code) << c.status << ": " << stream.status().to_string();
      EXPECT_NE(stream.status().message().find(c.says), std::string::npos) << stream.status().to_string();
      EXPECT_NE(stream.status().message().find("up-a"), std::string::npos) << stream.status().to_string();
      EXPECT_EQ(backend->load().in_flight, 0);
    }
  });
  EXPECT_EQ(up_.chat_requests(), static_cast<int>(cases.size()));
}

TEST_F(OpenAiBackendTest, RefusedConnectionsGarbageAndNonStreamingAnswersAreUnavailable) {
  UpstreamReply garbage;
  garbage.raw = "SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n";
  UpstreamReply hang_up;
  hang_up.hang_up = true;
  up_.push_reply(garbage);
  up_.push_reply(hang_up);
  up_.push_reply(status_reply(200, R"({"choices":[{"message":{"content":"not streamed"}}]})"));
  FakeUpstream gone(ioc_);
  gone.close();  // nothing listens on its port any more
  auto backend = make(config_for(up_));
  auto dead = make(config_for(gone, "dead"));
  ASSERT_NE(backend, nullptr);
  ASSERT_NE(dead, nullptr);
  run([&] {
    for (const char* what : {"garbage", "hang up", "json"}) {
      auto stream = backend->start(request());
      ASSERT_FALSE(stream.is_ok()) << what;
      EXPECT_EQ(stream.status().code(), StatusCode::kUnavailable) << what << ": " << stream.status().to_string();
    }
    auto refused = dead->start(request());
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().to_string();
    EXPECT_NE(refused.status().message().find("connect"), std::string::npos) << refused.status().to_string();
    EXPECT_EQ(backend->load().in_flight + dead->load().in_flight, 0);
  });
}

TEST_F(OpenAiBackendTest, MalformedChunksAndMidStreamFailuresEndTheStreamWithAnError) {
  up_.push_reply(stream_reply({content_chunk("Hi"), "data: {not json\n\n", kSseDone}));
  up_.push_reply(stream_reply({content_chunk("Hi"), sse({{"error", {{"message", "engine died"}}}})}));
  UpstreamReply dropped = stream_reply({content_chunk("one"), content_chunk(" two")});
  dropped.drop_before_end = true;
  up_.push_reply(dropped);
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    for (const char* expect : {"malformed", "engine died", "broke"}) {
      auto stream = backend->start(request());
      ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
      Collected got = read_all(**stream, clock_);
      EXPECT_FALSE(got.pieces.empty()) << expect;
      ASSERT_TRUE(got.end.has_value()) << got.failure.to_string();
      EXPECT_EQ(got.end->kind, Kind::kError);
      EXPECT_EQ(got.end->error.code(), StatusCode::kUnavailable);
      EXPECT_NE(got.end->error.message().find(expect), std::string::npos) << got.end->error.to_string();
      EXPECT_EQ(backend->load().in_flight, 0);
      EXPECT_EQ((*stream)->next(clock_.now() + 1).status().code(), StatusCode::kFailedPrecondition);
    }
  });
}

TEST_F(OpenAiBackendTest, DeadlineExpiryReturnsDeadlineExceededAndTheStreamStaysReadable) {
  UpstreamReply paused = stream_reply({content_chunk("first"), content_chunk(" second", "stop"), kSseDone});
  paused.pause_before_chunk = 1;
  up_.push_reply(paused);
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto stream = backend->start(request());
    ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
    auto first = (*stream)->next(clock_.now() + 10);
    ASSERT_TRUE(first.is_ok());
    EXPECT_EQ(first->text, "first");
    for (int i = 0; i < 3; ++i) {
      double deadline = clock_.now() + 0.05;
      auto late = (*stream)->next(deadline);
      EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded);
      EXPECT_GE(clock_.now(), deadline);  // it waited until the deadline
    }
    EXPECT_EQ((*stream)->next(clock_.now() - 1).status().code(), StatusCode::kDeadlineExceeded);  // past
    EXPECT_EQ(backend->load().in_flight, 1);
    up_.release();
    Collected rest = read_all(**stream, clock_);
    EXPECT_EQ(rest.text(), " second");
    ASSERT_TRUE(rest.end.has_value()) << rest.failure.to_string();
    EXPECT_EQ(rest.end->kind, Kind::kDone);
    EXPECT_EQ(rest.end->usage.completion_tokens, 2);
  });
}

TEST_F(OpenAiBackendTest, SlowTokensArriveInOrderAndASilentHeadHitsTheResponseTimeout) {
  UpstreamReply slow = stream_reply({content_chunk("a"), content_chunk("b"), content_chunk("c"),
                                     content_chunk("d", "stop"), kSseDone});
  slow.chunk_delay_ms = 20;
  UpstreamReply silent;
  silent.pause_before_head = true;
  up_.push_reply(slow);
  up_.push_reply(silent);
  auto config = config_for(up_);
  config.response_timeout_s = 0.2;
  auto backend = make(config);
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto stream = backend->start(request());
    ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
    EXPECT_EQ(read_all(**stream, clock_).text(), "abcd");
    auto timed_out = backend->start(request());
    ASSERT_FALSE(timed_out.is_ok());
    EXPECT_EQ(timed_out.status().code(), StatusCode::kDeadlineExceeded) << timed_out.status().to_string();
    EXPECT_EQ(backend->load().in_flight, 0);
  });
}

TEST_F(OpenAiBackendTest, CancelAndDestroyFreeTheSlotAtOnce) {
  UpstreamReply paused = stream_reply({content_chunk("first"), content_chunk(" more", "stop"), kSseDone});
  paused.pause_before_chunk = 1;
  up_.push_reply(paused);
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto cancelled_stream = backend->start(request());
    auto dropped = backend->start(request());
    ASSERT_TRUE(cancelled_stream.is_ok());
    ASSERT_TRUE(dropped.is_ok());
    ASSERT_TRUE((*cancelled_stream)->next(clock_.now() + 10).is_ok());
    EXPECT_EQ((*cancelled_stream)->next(clock_.now() + 0.02).status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_EQ(backend->load().in_flight, 2);
    (*cancelled_stream)->cancel();  // with a read in flight
    EXPECT_EQ(backend->load().in_flight, 1);
    EXPECT_EQ((*cancelled_stream)->next(clock_.now() + 1).status().code(), StatusCode::kCancelled);
    dropped = Result<std::unique_ptr<InferenceStream>>(cancelled("dropped"));
    EXPECT_EQ(backend->load().in_flight, 0);
  });
}

TEST_F(OpenAiBackendTest, MaxInFlightRefusesWithoutContactingTheUpstream) {
  up_.push_reply(stream_reply({content_chunk("x", "stop"), kSseDone}));
  auto config = config_for(up_);
  config.max_in_flight = 1;
  auto backend = make(config);
  ASSERT_NE(backend, nullptr);
  run([&] {
    auto first = backend->start(request());
    ASSERT_TRUE(first.is_ok());
    EXPECT_EQ(backend->load().capacity, 1);
    auto second = backend->start(request());
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(up_.chat_requests(), 1);
    EXPECT_EQ(read_all(**first, clock_).text(), "x");
    auto third = backend->start(request());
    EXPECT_TRUE(third.is_ok()) << third.status().to_string();
  });
}

TEST_F(OpenAiBackendTest, OutsideATaskAndFromAnotherTaskIsFailedPrecondition) {
  up_.push_reply(hello_reply());
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  auto outside = backend->start(request());
  ASSERT_FALSE(outside.is_ok());
  EXPECT_EQ(outside.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend->load().in_flight, 0);
  run([&] {
    auto stream = backend->start(request());
    ASSERT_TRUE(stream.is_ok());
    StatusCode seen = StatusCode::kOk;
    bool done = false;
    spawn_task(ioc_, [&](TaskYield) {
      seen = (*stream)->next(clock_.now() + 1).status().code();
      done = true;
    });
    ASSERT_TRUE(eventually([&] { return done; }));
    EXPECT_EQ(seen, StatusCode::kFailedPrecondition);
    EXPECT_EQ(read_all(**stream, clock_).text(), "Hello, world!");  // its own task still reads it
  });
}

TEST_F(OpenAiBackendTest, HealthChecksFlipHealthyWhenTheUpstreamGoesAwayAndComesBack) {
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  EXPECT_TRUE(backend->load().healthy);
  backend->start_health_checks(ioc_);
  backend->start_health_checks(ioc_);  // once only
  run([&] {
    ASSERT_TRUE(eventually([&] { return backend->health_checks() >= 1; }));
    EXPECT_TRUE(backend->load().healthy);
    up_.close();
    ASSERT_TRUE(eventually([&] { return !backend->load().healthy; })) << "refused connections mark it unhealthy";
    up_.reopen();
    ASSERT_TRUE(eventually([&] { return backend->load().healthy; })) << "it comes back";
    up_.set_health_status(503);
    ASSERT_TRUE(eventually([&] { return !backend->load().healthy; })) << "a 503 marks it unhealthy";
    up_.set_health_status(200);
    ASSERT_TRUE(eventually([&] { return backend->load().healthy; }));
  });
  ASSERT_FALSE(up_.requests().empty());
  EXPECT_EQ(up_.requests().back().method, "GET");
  EXPECT_EQ(up_.requests().back().target, "/v1/models");
  EXPECT_EQ(up_.requests().back().authorization, "Bearer sk-test");
  // run() returned with the io_context out of work: stop() ended the health task.
}

TEST(OpenAiBackendConfigTest, UrlsAreParsedAndHttpsIsRefused) {
  auto plain = parse_upstream_url("http://127.0.0.1:8000");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, "8000");
  EXPECT_EQ(plain->path_prefix, "");
  EXPECT_EQ(plain->host_header, "127.0.0.1:8000");
  auto prefixed = parse_upstream_url("HTTP://vllm.internal/api/v2/");
  ASSERT_TRUE(prefixed.is_ok());
  EXPECT_EQ(prefixed->host, "vllm.internal");
  EXPECT_EQ(prefixed->port, "80");
  EXPECT_EQ(prefixed->path_prefix, "/api/v2");
  EXPECT_EQ(prefixed->host_header, "vllm.internal");
  auto v6 = parse_upstream_url("http://[::1]:9000/x");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->host_header, "[::1]:9000");
  auto https = parse_upstream_url("https://api.example.com");
  ASSERT_FALSE(https.is_ok());
  EXPECT_NE(https.status().message().find("https"), std::string::npos);
  for (const char* bad : {"", "127.0.0.1:8000", "ftp://x", "http://", "http://:80", "http://h:0", "http://h:99999",
                          "http://h:8x", "http://h:", "http://u:p@h", "http://h/x?y=1", "http://[::1"}) {
    auto r = parse_upstream_url(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(OpenAiBackendConfigTest, CreateChecksTheConfiguration) {
  RealClock clock;
  OpenAiBackendConfig good;
  good.name = "a";
  good.url = "http://127.0.0.1:1";
  EXPECT_TRUE(OpenAiBackend::create(clock, good).is_ok());
  auto no_name = good;
  no_name.name = "";
  auto bad_url = good;
  bad_url.url = "https://x";
  auto bad_timeout = good;
  bad_timeout.connect_timeout_s = 0;
  auto bad_path = good;
  bad_path.health_path = "v1/models";
  auto bad_limit = good;
  bad_limit.max_in_flight = -1;
  for (const auto& config : {no_name, bad_url, bad_timeout, bad_path, bad_limit}) {
    auto r = OpenAiBackend::create(clock, config);
    ASSERT_FALSE(r.is_ok()) << config.url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace chatscale::testing
