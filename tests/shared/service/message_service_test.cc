// The request flow end to end over in-memory ports and the real shared components (rate limiter,
// moderation, context builder), on a manual clock.
#include "service/message_service.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ratelimit/memory_rate_limit_store.h"
#include "testing/fake_inference.h"
#include "testing/manual_clock.h"
#include "testing/memory_metrics.h"
#include "testing/memory_stores.h"

namespace chatscale {
namespace {

using testing::FakeInferenceBackend;
using testing::FakeScript;

class RecordingSink : public StreamSink {
 public:
  bool on_user_message(const Message& m) override {
    user = m;
    ++begins;
    return open();
  }
  bool on_delta(std::string_view text, std::int64_t tokens, std::int64_t) override {
    text_ += text;
    tokens_ += tokens;
    ++deltas;
    return open();
  }
  bool on_heartbeat() override {
    ++heartbeats;
    return open();
  }
  void on_done(const Message& m) override {
    done = m;
    ++dones;
  }
  // The client disconnects after this many deltas.
  void leave_after(int n) { leave_after_ = n; }

  Message user, done;
  std::string text_;
  std::int64_t tokens_ = 0;
  int begins = 0, deltas = 0, heartbeats = 0, dones = 0;

 private:
  bool open() const { return leave_after_ < 0 || deltas < leave_after_; }
  int leave_after_ = -1;
};

std::vector<Tier> test_tiers() {
  Tier free{"free", 3, 10'000, 2, 512, 0.9, 0};
  Tier plus{"plus", 100, 100'000, 4, 2048, 0.1, 1};
  return {free, plus};
}

class MessageServiceTest : public ::testing::Test {
 protected:
  MessageServiceTest()
      : rate_store_(clock_),
        limiter_(rate_store_, test_tiers()),
        a_(clock_, "a"),
        b_(clock_, "b"),
        service_(MessagePorts{clock_, store_, store_, store_, metrics_, tokenizer_, {&a_, &b_}},
                 MessageComponents{limiter_, Moderator::builtin()}, config()) {
    conversation_ = store_.create_conversation("alice", "chat", clock_.now())->value.id;
    b_.set_healthy(true);
  }

  static MessageServiceConfig config() {
    MessageServiceConfig c;
    c.heartbeat_interval_s = 15;
    c.stall_timeout_s = 60;
    c.first_token_timeout_s = 30;
    c.checkpoint_tokens = 8;
    c.checkpoint_interval_s = 1000;
    return c;
  }

  SendRequest request(std::string content, std::string key = "") {
    SendRequest r;
    r.caller.user_id = "alice";
    r.caller.tier = "plus";
    r.conversation_id = conversation_;
    r.content = std::move(content);
    r.idempotency_key = std::move(key);
    r.max_tokens = 200;
    return r;
  }

  std::vector<Message> stored() const { return store_.all_messages(conversation_); }

  testing::ManualClock clock_;
  testing::MemoryStore store_;
  testing::MemoryMetrics metrics_;
  ApproximateTokenizer tokenizer_;
  MemoryRateLimitStore rate_store_;
  RateLimiter limiter_;
  FakeInferenceBackend a_, b_;
  MessageService service_;
  std::string conversation_;
  RecordingSink sink_;
};

TEST_F(MessageServiceTest, HappyPathStreamsAndStoresBothMessages) {
  double start = clock_.now();
  auto out = service_.send(request("What is the capital of France?"), sink_);
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(sink_.text_, FakeScript{}.reply);
  EXPECT_EQ(sink_.dones, 1);
  EXPECT_EQ(sink_.done.finish_reason, FinishReason::kStop);
  EXPECT_EQ(sink_.done.status, MessageStatus::kComplete);
  EXPECT_NEAR(out.ttft_s, FakeScript{}.first_token_delay, 1e-6);
  EXPECT_GT(clock_.now(), start);
  auto messages = stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].role, Role::kUser);
  EXPECT_EQ(messages[1].role, Role::kAssistant);
  EXPECT_EQ(messages[1].content, FakeScript{}.reply);
  EXPECT_EQ(messages[1].status, MessageStatus::kComplete);
  EXPECT_EQ(out.lsn, store_.last_lsn());
  EXPECT_EQ(store_.usage_of("alice").completion_tokens, sink_.tokens_);
  EXPECT_GT(store_.usage_of("alice").prompt_tokens, 0);
  EXPECT_EQ(metrics_.value(MetricId::kMessages, {"plus", "ok"}), 1);
  EXPECT_EQ(metrics_.value(MetricId::kActiveStreams), 0);
  EXPECT_EQ(metrics_.histogram(MetricId::kTimeToFirstToken, {"plus"}).count, 1);
  ASSERT_TRUE(out.rate.has_value());
  EXPECT_TRUE(out.rate->allowed);
  // The model saw the system prompt first and the new message last.
  const auto& turns = a_.starts() ? a_.last_request().messages : b_.last_request().messages;
  ASSERT_GE(turns.size(), 2u);
  EXPECT_EQ(turns.front().role, Role::kSystem);
  EXPECT_EQ(turns.back().content, "What is the capital of France?");
}

TEST_F(MessageServiceTest, HistoryReachesTheModel) {
  ASSERT_TRUE(service_.send(request("My name is Ada."), sink_).status.is_ok());
  RecordingSink second;
  ASSERT_TRUE(service_.send(request("What is my name?"), second).status.is_ok());
  const auto& turns = a_.starts() == 2 ? a_.last_request().messages : b_.last_request().messages;
  ASSERT_EQ(turns.size(), 4u);  // system, user, assistant, user
  EXPECT_EQ(turns[1].content, "My name is Ada.");
  EXPECT_EQ(turns[2].role, Role::kAssistant);
}

TEST_F(MessageServiceTest, RateLimitedRequestIsRefusedWithRetryAfter) {
  auto r = request("hi");
  r.caller.tier = "free";  // 3 requests per minute
  for (int i = 0; i < 3; ++i) {
    RecordingSink s;
    ASSERT_TRUE(service_.send(r, s).status.is_ok());
  }
  RecordingSink refused;
  auto out = service_.send(r, refused);
  EXPECT_EQ(out.status.code(), StatusCode::kRateLimited);
  ASSERT_TRUE(out.rate.has_value());
  EXPECT_FALSE(out.rate->allowed);
  EXPECT_GT(out.rate->retry_after_seconds, 0);
  EXPECT_EQ(refused.begins, 0);
  EXPECT_EQ(stored().size(), 6u);
  EXPECT_EQ(a_.starts() + b_.starts(), 3);
  EXPECT_EQ(metrics_.value(MetricId::kMessages, {"free", "rate_limited"}), 1);
  // A minute later the user may send again.
  clock_.advance(60);
  RecordingSink later;
  EXPECT_TRUE(service_.send(r, later).status.is_ok());
}

TEST_F(MessageServiceTest, FlaggedInputReachesNoModelAndIsNotStoredOrBilled) {
  auto out = service_.send(request("I am going to kill you, you worthless idiot"), sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(out.flagged_categories.empty());
  EXPECT_EQ(a_.starts() + b_.starts(), 0);
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(store_.usage_of("alice").total(), 0);
  EXPECT_EQ(sink_.begins, 0);
  EXPECT_EQ(metrics_.value(MetricId::kMessages, {"plus", "moderated"}), 1);
  // The token reservation was refunded: the full budget is there again.
  auto again = limiter_.acquire("alice", "plus", 1, clock_.now());
  ASSERT_TRUE(again.is_ok());
  EXPECT_GE(again->tokens.remaining, 100'000 - 1 - 1);
}

TEST_F(MessageServiceTest, OutputFlaggedMidStreamEndsWithContentFilter) {
  FakeScript script;
  script.reply = "Sure thing. Here is my answer: I will kill you and your whole family tonight. More text follows.";
  a_.set_script(script);
  b_.set_script(script);
  auto out = service_.send(request("Tell me a story"), sink_);
  EXPECT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(sink_.done.finish_reason, FinishReason::kContentFilter);
  auto messages = stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].status, MessageStatus::kPartial);
  EXPECT_EQ(messages[1].finish_reason, FinishReason::kContentFilter);
  EXPECT_FALSE(messages[1].moderation_categories.empty());
  // Stored and streamed: the answer up to the delta that completed the flagged phrase, not beyond.
  EXPECT_EQ(script.reply.rfind(messages[1].content, 0), 0u) << messages[1].content;
  EXPECT_LT(messages[1].content.size(), script.reply.find("family"));
  EXPECT_EQ(sink_.text_.find("More text follows"), std::string::npos);
  EXPECT_EQ(sink_.text_, messages[1].content);
  EXPECT_EQ(a_.cancels() + b_.cancels(), 1);
  EXPECT_EQ(a_.in_flight() + b_.in_flight(), 0);
  EXPECT_EQ(metrics_.value(MetricId::kMessages, {"plus", "content_filter"}), 1);
}

TEST_F(MessageServiceTest, FailureBeforeFirstTokenRetriesOnAnotherBackend) {
  FakeScript broken;
  broken.fail_before_first_token = true;
  a_.set_script(broken);  // a is tried first: both idle, lower index wins
  auto out = service_.send(request("hello"), sink_);
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(out.backend, "b");
  EXPECT_EQ(a_.starts(), 1);
  EXPECT_EQ(b_.starts(), 1);
  EXPECT_EQ(sink_.begins, 1) << "the user message event is sent once";
  EXPECT_EQ(sink_.text_, FakeScript{}.reply);
  EXPECT_EQ(metrics_.value(MetricId::kInferenceAttempts, {"a", "retried"}), 1);
  EXPECT_EQ(stored().back().status, MessageStatus::kComplete);
}

TEST_F(MessageServiceTest, AllBackendsRefusingIsOverloadedAndTheUserMessageIsKept) {
  FakeScript full;
  full.refuse = true;
  a_.set_script(full);
  b_.set_script(full);
  auto out = service_.send(request("hello"), sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(sink_.begins, 0);
  auto messages = stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].content, "hello");
  EXPECT_EQ(messages[1].finish_reason, FinishReason::kError);
  EXPECT_EQ(messages[1].status, MessageStatus::kPartial);
  EXPECT_EQ(metrics_.value(MetricId::kMessages, {"plus", "overloaded"}), 1);
}

TEST_F(MessageServiceTest, FailureMidStreamPersistsThePartialAnswerMarked) {
  FakeScript flaky;
  flaky.fail_after_tokens = 3;
  a_.set_script(flaky);
  b_.set_script(flaky);
  auto out = service_.send(request("hello"), sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  auto messages = stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, "Hello! This is");
  EXPECT_EQ(messages[1].status, MessageStatus::kPartial);
  EXPECT_EQ(messages[1].finish_reason, FinishReason::kError);
  EXPECT_EQ(sink_.done.finish_reason, FinishReason::kError);
  EXPECT_EQ(a_.starts() + b_.starts(), 1) << "no retry once tokens were sent";
}

TEST_F(MessageServiceTest, ClientGoneMidStreamStillPersistsTheWholeAnswer) {
  sink_.leave_after(2);
  auto out = service_.send(request("hello"), sink_);
  ASSERT_TRUE(out.status.is_ok());
  EXPECT_TRUE(out.client_gone);
  EXPECT_EQ(sink_.deltas, 2) << "no writes to a gone client";
  auto messages = stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, FakeScript{}.reply);
  EXPECT_EQ(messages[1].status, MessageStatus::kComplete);
}

TEST_F(MessageServiceTest, IdempotentRetryReplaysTheStoredAnswer) {
  auto first = service_.send(request("hello", "key-1"), sink_);
  ASSERT_TRUE(first.status.is_ok());
  RecordingSink again;
  auto second = service_.send(request("hello", "key-1"), again);
  ASSERT_TRUE(second.status.is_ok());
  EXPECT_TRUE(second.replayed);
  EXPECT_EQ(second.user_message.id, first.user_message.id);
  EXPECT_EQ(second.assistant_message.id, first.assistant_message.id);
  EXPECT_EQ(again.text_, sink_.text_);
  EXPECT_EQ(stored().size(), 2u);
  EXPECT_EQ(a_.starts() + b_.starts(), 1);
  EXPECT_EQ(metrics_.value(MetricId::kActiveStreams), 0);
}

TEST_F(MessageServiceTest, RetryAfterAFailedAnswerGeneratesAgain) {
  FakeScript full;
  full.refuse = true;
  a_.set_script(full);
  b_.set_script(full);
  ASSERT_EQ(service_.send(request("hello", "k"), sink_).status.code(), StatusCode::kUnavailable);
  a_.set_script(FakeScript{});
  RecordingSink again;
  auto out = service_.send(request("hello", "k"), again);
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  auto messages = stored();
  ASSERT_EQ(messages.size(), 3u);  // user, failed answer, new answer; the user message is not repeated
  EXPECT_EQ(messages[2].status, MessageStatus::kComplete);
}

TEST_F(MessageServiceTest, AnotherUsersConversationIsNotFound) {
  auto r = request("hello");
  r.caller.user_id = "mallory";
  auto out = service_.send(r, sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kNotFound);
  EXPECT_EQ(http_status(out.status.code()), 404);
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(a_.starts() + b_.starts(), 0);
}

TEST_F(MessageServiceTest, SilentModelGetsHeartbeatsAndStallsFail) {
  FakeScript slow;
  slow.silent_after_first = 40;  // two heartbeat intervals of 15 s
  a_.set_script(slow);
  ASSERT_TRUE(service_.send(request("hello"), sink_).status.is_ok());
  EXPECT_EQ(sink_.heartbeats, 2);

  FakeScript stuck;
  stuck.silent_after_first = 100;  // past the 60 s stall timeout
  a_.set_script(stuck);
  b_.set_script(stuck);
  RecordingSink s;
  auto out = service_.send(request("hello again"), s);
  EXPECT_EQ(out.status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.done.finish_reason, FinishReason::kError);
  EXPECT_EQ(stored().back().content, "Hello!");
}

TEST_F(MessageServiceTest, LongAnswersAreCheckpointed) {
  FakeScript longer;
  for (int i = 0; i < 40; ++i) longer.reply += " word" + std::to_string(i);
  a_.set_script(longer);
  auto out = service_.send(request("hello"), sink_);
  ASSERT_TRUE(out.status.is_ok());
  // 50 tokens with a checkpoint every 8: appended at the first token, updated 6 times, then final.
  EXPECT_EQ(store_.updates_of(out.assistant_message.id), 7);
  EXPECT_EQ(stored().back().status, MessageStatus::kComplete);
}

TEST_F(MessageServiceTest, AnAnswerThatCannotBeStoredCountsAsLost) {
  store_.fail_writes_after(2);  // the user message and the first checkpoint, then the database fails
  auto out = service_.send(request("hello"), sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kInternal);
  EXPECT_EQ(metrics_.value(MetricId::kMessagesLost), 1);
  EXPECT_EQ(stored().size(), 2u);
  EXPECT_EQ(stored()[1].status, MessageStatus::kStreaming) << "the checkpoint is all that survived";
}

TEST_F(MessageServiceTest, DatabaseDownBeforePersistingRefusesAndRefunds) {
  store_.fail_writes_after(0);
  auto out = service_.send(request("hello"), sink_);
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(sink_.begins, 0);
  EXPECT_EQ(a_.starts() + b_.starts(), 0);
}

TEST_F(MessageServiceTest, ReadYourWritesTokenReachesTheStore) {
  auto r = request("hello");
  r.caller.read_lsn = 42;
  ASSERT_TRUE(service_.send(r, sink_).status.is_ok());
  EXPECT_EQ(store_.last_read_min_lsn(), 42u);
}

TEST_F(MessageServiceTest, OversizedAndEmptyMessagesAreRejected) {
  auto big = request(std::string(40 * 1024, 'x'));
  EXPECT_EQ(service_.send(big, sink_).status.code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(service_.send(request(""), sink_).status.code(), StatusCode::kInvalidArgument);
  auto r = request("hello");
  r.caller.tier = "platinum";
  EXPECT_EQ(service_.send(r, sink_).status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(stored().empty());
}

TEST_F(MessageServiceTest, TierCapsMaxTokens) {
  auto r = request("hello");
  r.caller.tier = "free";
  r.max_tokens = 4000;
  ASSERT_TRUE(service_.send(r, sink_).status.is_ok());
  EXPECT_EQ(a_.last_request().max_tokens, 512);
}

}  // namespace
}  // namespace chatscale
