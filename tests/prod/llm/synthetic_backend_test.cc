// SyntheticBackend on a ManualClock (exact token times, deadlines, limits, cancellation, text), on
// RealClock tasks over several I/O threads (admission under concurrency), and behind the shared
// MessageService; stop strings end the answer before them.
#include "prod/llm/synthetic_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "moderation/moderator.h"
#include "prod/runtime/real_clock.h"
#include "prod/runtime/task.h"
#include "testing/manual_clock.h"
#include "tests/prod/llm/service_harness.h"

namespace chatscale {
namespace {

using testing::ManualClock;

InferenceRequest make_request(std::string id, std::int64_t max_tokens = 1000, std::int64_t prompt_tokens = 17) {
  InferenceRequest r;
  r.request_id = std::move(id);
  r.model = "default";
  r.prompt_tokens = prompt_tokens;
  r.max_tokens = max_tokens;
  return r;
}

SyntheticBackendConfig rated(double tokens_per_second, double first_token_ms, std::int64_t answer_tokens) {
  SyntheticBackendConfig c;
  c.name = "syn";
  c.region = "eu";
  c.tokens_per_second = tokens_per_second;
  c.first_token_ms = first_token_ms;
  c.answer_tokens = answer_tokens;
  return c;
}

TEST(SyntheticBackendTest, FirstTokenLatencyThenTheConfiguredRateThenDone) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(10, 200, 5));
  double t0 = clock.now();
  auto stream = backend.start(make_request("r1"));
  ASSERT_TRUE(stream.is_ok()) << stream.status().to_string();
  EXPECT_EQ(backend.load().in_flight, 1);
  std::string text;
  for (int i = 0; i < 5; ++i) {
    auto event = (*stream)->next(0);
    ASSERT_TRUE(event.is_ok()) << event.status().to_string();
    ASSERT_EQ(event->kind, InferenceEvent::Kind::kDelta);
    EXPECT_EQ(event->tokens, 1);
    EXPECT_EQ(event->bytes, static_cast<std::int64_t>(event->text.size()));
    EXPECT_NEAR(clock.now(), t0 + 0.2 + 0.1 * i, 1e-6) << "token " << i;
    text += event->text;
  }
  auto done = (*stream)->next(0);
  ASSERT_TRUE(done.is_ok());
  ASSERT_EQ(done->kind, InferenceEvent::Kind::kDone);
  EXPECT_NEAR(clock.now(), t0 + 0.6, 1e-6);  // done comes with the last token
  EXPECT_EQ(done->usage.prompt_tokens, 17);
  EXPECT_EQ(done->usage.completion_tokens, 5);
  EXPECT_EQ(done->finish_reason, FinishReason::kStop);
  EXPECT_EQ(text, SyntheticBackend::answer_text(backend.config(), make_request("r1")));
  EXPECT_EQ(text.back(), '.');  // a complete answer ends its sentence
  EXPECT_EQ(backend.load().in_flight, 0);
  EXPECT_EQ((*stream)->next(0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend.model(), "synthetic");
}

TEST(SyntheticBackendTest, MaxTokensCapsTheAnswerWithFinishReasonLength) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(100, 0, 50));
  auto stream = backend.start(make_request("r2", 7));
  ASSERT_TRUE(stream.is_ok());
  std::int64_t deltas = 0;
  std::string text;
  for (;;) {
    auto event = (*stream)->next(0);
    ASSERT_TRUE(event.is_ok());
    if (event->kind != InferenceEvent::Kind::kDelta) {
      EXPECT_EQ(event->kind, InferenceEvent::Kind::kDone);
      EXPECT_EQ(event->finish_reason, FinishReason::kLength);
      EXPECT_EQ(event->usage.completion_tokens, 7);
      break;
    }
    ++deltas;
    text += event->text;
  }
  EXPECT_EQ(deltas, 7);
  EXPECT_EQ(text, SyntheticBackend::answer_text(backend.config(), make_request("r2", 7)));
  // Without a cap the answer is answer_tokens long and stops.
  auto uncapped = backend.start(make_request("r3", 0));
  ASSERT_TRUE(uncapped.is_ok());
  std::int64_t n = 0;
  Result<InferenceEvent> event = (*uncapped)->next(0);
  for (; event.is_ok() && event->kind == InferenceEvent::Kind::kDelta; event = (*uncapped)->next(0)) ++n;
  ASSERT_TRUE(event.is_ok());
  EXPECT_EQ(n, 50);
  EXPECT_EQ(event->finish_reason, FinishReason::kStop);
}

TEST(SyntheticBackendTest, DeadlineBeforeTheTokenReturnsDeadlineExceededAndTheStreamGoesOn) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(20, 300, 3));
  double t0 = clock.now();
  auto stream = backend.start(make_request("r4"));
  ASSERT_TRUE(stream.is_ok());
  auto early = (*stream)->next(t0 + 0.1);
  EXPECT_EQ(early.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NEAR(clock.now(), t0 + 0.1, 1e-6);  // it waited until the deadline, not longer
  auto again = (*stream)->next(t0 + 0.2);
  EXPECT_EQ(again.status().code(), StatusCode::kDeadlineExceeded);
  auto first = (*stream)->next(t0 + 10);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->kind, InferenceEvent::Kind::kDelta);
  EXPECT_NEAR(clock.now(), t0 + 0.3, 1e-6);
  // A deadline after the token's time gets the token, at its time.
  auto second = (*stream)->next(t0 + 0.4);
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->kind, InferenceEvent::Kind::kDelta);
  EXPECT_NEAR(clock.now(), t0 + 0.35, 1e-6);
  EXPECT_EQ(first->text + second->text + (*stream)->next(0)->text,
            SyntheticBackend::answer_text(backend.config(), make_request("r4")));
}

TEST(SyntheticBackendTest, MaxInFlightRefusesWithUnavailableAndCancelOrDestroyFreesTheSlotAtOnce) {
  ManualClock clock;
  auto config = rated(10, 100, 100);
  config.max_in_flight = 2;
  SyntheticBackend backend(clock, config);
  auto a = backend.start(make_request("a"));
  auto b = backend.start(make_request("b"));
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(backend.load().in_flight, 2);
  EXPECT_EQ(backend.load().capacity, 2);
  EXPECT_EQ(backend.load().region, "eu");
  auto refused = backend.start(make_request("c"));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(backend.refused(), 1);

  ASSERT_TRUE((*a)->next(0).is_ok());
  (*a)->cancel();
  EXPECT_EQ(backend.load().in_flight, 1);
  EXPECT_EQ((*a)->next(0).status().code(), StatusCode::kCancelled);
  (*a)->cancel();  // twice is harmless
  EXPECT_EQ(backend.load().in_flight, 1);
  auto c = backend.start(make_request("c"));
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(backend.load().in_flight, 2);

  b = Result<std::unique_ptr<InferenceStream>>(unavailable("dropped"));  // destroys stream b
  EXPECT_EQ(backend.load().in_flight, 1);
  a = Result<std::unique_ptr<InferenceStream>>(unavailable("dropped"));  // cancelled, then destroyed
  EXPECT_EQ(backend.load().in_flight, 1);
  EXPECT_TRUE(backend.start(make_request("d")).is_ok());  // started and dropped at once
  EXPECT_EQ(backend.load().in_flight, 1);
}

TEST(SyntheticBackendTest, TextIsDeterministicPerRequestIdAndSeedAndReadsAsPlainEnglish) {
  SyntheticBackendConfig config = rated(0, 0, 80);
  std::string one = SyntheticBackend::answer_text(config, make_request("req-1"));
  EXPECT_EQ(one, SyntheticBackend::answer_text(config, make_request("req-1")));
  EXPECT_NE(one, SyntheticBackend::answer_text(config, make_request("req-2")));
  SyntheticBackendConfig reseeded = config;
  reseeded.seed = 42;
  EXPECT_NE(one, SyntheticBackend::answer_text(reseeded, make_request("req-1")));
  // Streams give the same text as answer_text, and two backends agree.
  ManualClock clock;
  SyntheticBackend backend(clock, config);
  auto stream = backend.start(make_request("req-1"));
  ASSERT_TRUE(stream.is_ok());
  std::string streamed;
  for (auto e = (*stream)->next(0); e.is_ok() && e->kind == InferenceEvent::Kind::kDelta; e = (*stream)->next(0))
    streamed += e->text;
  EXPECT_EQ(streamed, one);

  std::set<std::string> distinct;
  for (int i = 0; i < 200; ++i) {
    std::string text = SyntheticBackend::answer_text(config, make_request("conv/" + std::to_string(i)));
    distinct.insert(text);
    ASSERT_TRUE(std::isupper(static_cast<unsigned char>(text.front()))) << text;
    EXPECT_EQ(text.back(), '.');
    for (char ch : text) ASSERT_TRUE(std::isalpha(static_cast<unsigned char>(ch)) || ch == ' ' || ch == '.') << text;
    // Words are separated by single spaces: 80 tokens, 80 words.
    EXPECT_EQ(std::count(text.begin(), text.end(), ' '), 79);
    auto verdict = Moderator::builtin().classify(text);
    EXPECT_FALSE(verdict.flagged) << text;
  }
  EXPECT_EQ(distinct.size(), 200u);
}

TEST(SyntheticBackendTest, ZeroRateAnswersWithoutTheClockMovingEvenWithAFirstTokenDelaySet) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(0, 500, 30));
  double t0 = clock.now();
  auto stream = backend.start(make_request("fast"));
  ASSERT_TRUE(stream.is_ok());
  int events = 0;
  for (auto e = (*stream)->next(t0 + 1); e.is_ok(); e = (*stream)->next(t0 + 1)) {
    ++events;
    if (e->kind != InferenceEvent::Kind::kDelta) break;
  }
  EXPECT_EQ(events, 31);
  EXPECT_EQ(clock.now(), t0);
}

// Many tasks on four I/O threads start and read streams at once on the real clock; the in-flight
// bound holds at every admission and every slot comes back.
TEST(SyntheticBackendTest, ConcurrentTasksOnSeveralThreadsRespectMaxInFlight) {
  RealClock clock;
  auto config = rated(2000, 2, 20);
  config.max_in_flight = 8;
  SyntheticBackend backend(clock, config);
  boost::asio::io_context ioc;
  constexpr int kTasks = 400;
  std::atomic<int> completed{0}, refused{0}, bad{0}, over_limit{0};
  for (int i = 0; i < kTasks; ++i) {
    spawn_task(ioc, [&, i](TaskYield) {
      auto stream = backend.start(make_request("t" + std::to_string(i)));
      if (!stream.is_ok()) {
        refused += stream.status().code() == StatusCode::kUnavailable ? 1 : 0;
        bad += stream.status().code() == StatusCode::kUnavailable ? 0 : 1;
        return;
      }
      if (backend.in_flight() > 8) ++over_limit;
      std::int64_t tokens = 0;
      for (;;) {
        auto e = (*stream)->next(clock.now() + 10);
        if (!e.is_ok() || e->kind == InferenceEvent::Kind::kError) {
          ++bad;
          return;
        }
        if (e->kind == InferenceEvent::Kind::kDone) break;
        tokens += e->tokens;
      }
      if (tokens == 20) ++completed;
      else ++bad;
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { ioc.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(over_limit.load(), 0);
  EXPECT_EQ(completed + refused, kTasks);
  EXPECT_EQ(backend.started(), completed.load());
  EXPECT_EQ(backend.refused(), refused.load());
  EXPECT_GT(completed.load(), 0);
  EXPECT_EQ(backend.in_flight(), 0);
}

// The whole message service streaming from the synthetic backend on a manual clock.
TEST(SyntheticBackendTest, StopStringEndsTheAnswerBeforeIt) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(0, 0, 40));
  InferenceRequest r = make_request("stop-1");
  const std::string full = SyntheticBackend::answer_text(backend.config(), r);
  // The third word of the answer (with its leading space) is the stop.
  std::size_t second = full.find(' ', full.find(' ') + 1);
  std::size_t third = full.find(' ', second + 1);
  ASSERT_NE(third, std::string::npos) << full;
  r.stop = {full.substr(second, third - second), "zzz-never"};
  auto stream = backend.start(r);
  ASSERT_TRUE(stream.is_ok());
  std::string text;
  std::int64_t tokens = 0;
  for (;;) {
    auto e = (*stream)->next(0);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    if (e->kind == InferenceEvent::Kind::kDelta) {
      text += e->text;
      tokens += e->tokens;
      continue;
    }
    EXPECT_EQ(e->kind, InferenceEvent::Kind::kDone);
    EXPECT_EQ(e->finish_reason, FinishReason::kStop);
    EXPECT_EQ(e->usage.completion_tokens, tokens);
    break;
  }
  EXPECT_EQ(text, full.substr(0, full.find(r.stop[0]))) << "stop \"" << r.stop[0] << "\" in " << full;
  EXPECT_EQ(tokens, 3);
  EXPECT_EQ(backend.in_flight(), 0);
  // A stop that never comes: the whole answer, held-back text included.
  r.stop = {full.substr(full.size() - 2) + "!"};
  auto whole = backend.start(r);
  ASSERT_TRUE(whole.is_ok());
  std::string all;
  for (auto e = (*whole)->next(0); e.is_ok() && e->kind == InferenceEvent::Kind::kDelta; e = (*whole)->next(0)) all += e->text;
  EXPECT_EQ(all, full);
}

TEST(SyntheticBackendTest, MessageServiceStreamsAndStoresTheSyntheticAnswer) {
  ManualClock clock;
  SyntheticBackend backend(clock, rated(50, 100, 40));
  testing::ServiceHarness harness(clock, {&backend});
  testing::RecordingSink sink;
  double t0 = clock.now();
  auto out = harness.service.send(harness.request("Tell me about rivers."), sink);
  ASSERT_TRUE(out.status.is_ok()) << out.status.to_string();
  EXPECT_EQ(out.backend, "syn");
  EXPECT_NEAR(out.ttft_s, 0.1, 1e-6);
  EXPECT_NEAR(clock.now() - t0, 0.1 + 39 / 50.0, 1e-6);
  EXPECT_EQ(sink.tokens, 40);
  EXPECT_EQ(sink.done.finish_reason, FinishReason::kStop);
  auto messages = harness.stored();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, sink.text);
  EXPECT_EQ(messages[1].status, MessageStatus::kComplete);
  EXPECT_EQ(messages[1].usage.completion_tokens, 40);
  EXPECT_EQ(messages[1].usage.prompt_tokens, out.assistant_message.usage.prompt_tokens);
  EXPECT_GT(messages[1].usage.prompt_tokens, 0);
  EXPECT_EQ(backend.in_flight(), 0);
}

}  // namespace
}  // namespace chatscale
