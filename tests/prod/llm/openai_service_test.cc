// The whole shared MessageService (in-memory stores, rate limiter, built-in moderator) streaming
// through OpenAiBackend from fake upstreams on the real clock, inside a task: a plain answer, failover
// before the first token (connection refused, 503), a stream that breaks mid-answer, all upstreams down.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "prod/llm/openai_backend.h"
#include "tests/prod/llm/service_harness.h"
#include "tests/prod/llm/upstream_test_util.h"

namespace chatscale::testing {
namespace {

class OpenAiServiceTest : public UpstreamTest {
 protected:
  static MessageServiceConfig service_config() {
    MessageServiceConfig c;
    c.first_token_timeout_s = 10;
    c.stall_timeout_s = 10;
    return c;
  }
};

TEST_F(OpenAiServiceTest, AnswerStreamsFromTheUpstreamAndIsStoredWithItsUsage) {
  up_.push_reply(hello_reply());
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  ServiceHarness harness(clock_, {backend.get()}, service_config());
  RecordingSink sink;
  SendOutcome out;
  run([&] { out = harness.service.send(harness.request("What is the capital of France?"), sink); });
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(out.backend, "up-a");
  EXPECT_EQ(sink.text, "Hello, world!");
  EXPECT_EQ(sink.deltas, 3);
  EXPECT_EQ(sink.dones, 1);
  EXPECT_GE(out.ttft_s, 0);
  auto messages = harness.stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, "Hello, world!");
  EXPECT_EQ(messages[1].status, MessageStatus::kComplete);
  EXPECT_EQ(messages[1].finish_reason, FinishReason::kStop);
  EXPECT_EQ(messages[1].usage.prompt_tokens, 21);  // as the upstream counted
  EXPECT_EQ(messages[1].usage.completion_tokens, 3);
  EXPECT_EQ(harness.store.usage_of("alice").completion_tokens, 3);
  EXPECT_EQ(harness.metrics.value(MetricId::kInferenceAttempts, {"up-a", "ok"}), 1);
  EXPECT_EQ(backend->in_flight(), 0);
  // The upstream saw the service's context: the system prompt first, the new message last.
  ASSERT_EQ(up_.chat_requests(), 1);
  auto body = nlohmann::json::parse(up_.requests()[0].body);
  EXPECT_EQ(body["messages"].front()["role"], "system");
  EXPECT_EQ(body["messages"].back()["content"], "What is the capital of France?");
  EXPECT_EQ(body["max_tokens"], 200);
}

TEST_F(OpenAiServiceTest, FailsOverWhenTheFirstUpstreamRefusesTheConnection) {
  FakeUpstream gone(ioc_);
  gone.close();  // its port now refuses connections
  up_.push_reply(hello_reply());
  auto dead = make(config_for(gone, "dead"));
  auto live = make(config_for(up_, "live"));
  ASSERT_NE(dead, nullptr);
  ASSERT_NE(live, nullptr);
  ServiceHarness harness(clock_, {dead.get(), live.get()}, service_config());  // equal load: dead is tried first
  RecordingSink sink;
  SendOutcome out;
  run([&] { out = harness.service.send(harness.request("hello"), sink); });
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(out.backend, "live");
  EXPECT_EQ(sink.text, "Hello, world!");
  EXPECT_EQ(harness.metrics.value(MetricId::kInferenceAttempts, {"dead", "refused"}), 1);
  EXPECT_EQ(harness.metrics.value(MetricId::kInferenceAttempts, {"live", "ok"}), 1);
  EXPECT_EQ(harness.stored().back().status, MessageStatus::kComplete);
  EXPECT_EQ(dead->in_flight() + live->in_flight(), 0);
}

TEST_F(OpenAiServiceTest, FailsOverWhenTheFirstUpstreamAnswers503) {
  FakeUpstream busy(ioc_);
  also_close(busy);
  busy.push_reply(status_reply(503, R"({"error":{"message":"queue full"}})"));
  up_.push_reply(hello_reply());
  auto first = make(config_for(busy, "busy"));
  auto second = make(config_for(up_, "second"));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ServiceHarness harness(clock_, {first.get(), second.get()}, service_config());
  RecordingSink sink;
  SendOutcome out;
  run([&] { out = harness.service.send(harness.request("hello"), sink); });
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(out.backend, "second");
  EXPECT_EQ(busy.chat_requests(), 1);
  EXPECT_EQ(up_.chat_requests(), 1);
  EXPECT_EQ(sink.text, "Hello, world!");
  EXPECT_EQ(harness.metrics.value(MetricId::kInferenceAttempts, {"busy", "refused"}), 1);
}

TEST_F(OpenAiServiceTest, AStreamThatBreaksMidAnswerIsStoredAsPartial) {
  UpstreamReply broken = stream_reply({content_chunk("The answer"), content_chunk(" is")});
  broken.drop_before_end = true;
  up_.push_reply(broken);
  auto backend = make(config_for(up_));
  ASSERT_NE(backend, nullptr);
  ServiceHarness harness(clock_, {backend.get()}, service_config());
  RecordingSink sink;
  SendOutcome out;
  run([&] { out = harness.service.send(harness.request("hello"), sink); });
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable) << out.status.to_string();
  EXPECT_EQ(sink.text, "The answer is");
  auto messages = harness.stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, "The answer is");
  EXPECT_EQ(messages[1].status, MessageStatus::kPartial);
  EXPECT_EQ(messages[1].finish_reason, FinishReason::kError);
  EXPECT_EQ(backend->in_flight(), 0);
}

TEST_F(OpenAiServiceTest, AllUpstreamsDownIsOverloadedAndTheUserMessageIsKept) {
  up_.push_reply(status_reply(500, "boom"));
  FakeUpstream gone(ioc_);
  gone.close();
  auto failing = make(config_for(up_, "failing"));
  auto dead = make(config_for(gone, "dead"));
  ASSERT_NE(failing, nullptr);
  ASSERT_NE(dead, nullptr);
  ServiceHarness harness(clock_, {failing.get(), dead.get()}, service_config());
  RecordingSink sink;
  SendOutcome out;
  run([&] { out = harness.service.send(harness.request("hello"), sink); });
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable) << out.status.to_string();
  EXPECT_EQ(sink.deltas, 0);
  auto messages = harness.stored();
  ASSERT_GE(messages.size(), 1u);
  EXPECT_EQ(messages[0].role, Role::kUser);
  EXPECT_EQ(harness.metrics.value(MetricId::kMessages, {"plus", "overloaded"}), 1);
  EXPECT_EQ(harness.metrics.value(MetricId::kInferenceAttempts, {"failing", "refused"}) +
                harness.metrics.value(MetricId::kInferenceAttempts, {"dead", "refused"}),
            2);
}

}  // namespace
}  // namespace chatscale::testing
