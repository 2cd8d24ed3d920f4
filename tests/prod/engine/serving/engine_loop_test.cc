// EngineLoop over CpuModelBackend and a tiny random model: greedy output alone == the reference argmax
// chain; 8 concurrent requests == each alone; cancellation frees the KV blocks at once; max_tokens,
// EOG and context stops; a prompt beyond the context refused; a KV cache too small for all requests
// forces preemption (recompute) and every request still gives the tokens it gives alone; a full
// waiting queue refuses; seeded sampling is reproducible; notify_on_event() wakes a waiter at the next
// token, at once when one is queued, and at cancellation.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "prod/engine/cpu/reference.h"
#include "prod/engine/cpu/sampler.h"
#include "prod/engine/serving/engine_loop.h"
#include "tests/prod/engine/cpu/random_model.h"

namespace chatscale::engine {
namespace {

using namespace std::chrono_literals;
using testing::make_random_model;
using testing::RandomModel;
using testing::tiny_config;

std::vector<std::int32_t> prompt(std::size_t n, std::int32_t salt) {
  std::vector<std::int32_t> t(n);
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = static_cast<std::int32_t>((i * 37 + static_cast<std::size_t>(salt) * 11 + 5) % 256);
  }
  return t;
}

// A backend that runs a forward only when the test allows it: iterations stop at a known point.
class GatedBackend final : public ModelBackend {
 public:
  explicit GatedBackend(ModelBackend& inner) : inner_(inner) {}
  const LlamaConfig& config() const override { return inner_.config(); }
  std::int32_t block_size() const override { return inner_.block_size(); }
  std::int64_t num_blocks() const override { return inner_.num_blocks(); }
  Status forward(const ForwardBatch& batch, std::span<float> logits) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return allowed_ > 0; });
    --allowed_;
    --waiting_;
    return inner_.forward(batch, logits);
  }
  void allow(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    allowed_ += n;
    cv_.notify_all();
  }
  // Waits until the loop is blocked inside forward().
  void wait_blocked() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ > 0 && allowed_ == 0; });
  }

 private:
  ModelBackend& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int allowed_ = 0;
  int waiting_ = 0;
};

struct Fixture {
  explicit Fixture(std::int64_t blocks = 64, EngineLoopOptions options = {}, std::int32_t block_size = 4)
      : model(make_random_model(tiny_config(), DType::kF32, 7)) {
    auto b = CpuModelBackend::create(model.config, model.weights, blocks, block_size, {.threads = 2});
    EXPECT_TRUE(b.is_ok()) << b.status().message();
    backend = std::move(b).value();
    auto l = EngineLoop::create(*backend, options);
    EXPECT_TRUE(l.is_ok()) << l.status().message();
    loop = std::move(l).value();
  }
  RandomModel model;
  std::unique_ptr<CpuModelBackend> backend;
  std::unique_ptr<EngineLoop> loop;
};

EngineRequest greedy(std::vector<std::int32_t> ids, std::int64_t max_tokens) {
  EngineRequest r;
  r.prompt_ids = std::move(ids);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

struct Outcome {
  std::vector<std::int32_t> tokens;
  EngineEvent final_event;
};

Outcome drain(EngineStream& stream) {
  Outcome out;
  for (;;) {
    auto e = stream.next(30s);
    EXPECT_TRUE(e.is_ok()) << e.status().message();
    if (!e.is_ok()) return out;
    if (e->kind == EngineEvent::Kind::kToken) {
      out.tokens.push_back(e->token);
      continue;
    }
    out.final_event = *e;
    return out;
  }
}

Outcome run_alone(Fixture& f, EngineRequest request) {
  auto s = f.loop->submit(std::move(request));
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return drain(**s);
}

// Polls stats until pred holds or 30 s pass.
template <typename Pred>
bool wait_for_stats(EngineLoop& loop, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(loop.stats())) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(EngineLoop, GreedyAloneMatchesReferenceArgmaxChain) {
  Fixture f;
  std::vector<std::int32_t> ids = prompt(9, 1);
  Outcome out = run_alone(f, greedy(ids, 12));
  ASSERT_EQ(out.final_event.kind, EngineEvent::Kind::kFinished);
  EXPECT_EQ(out.final_event.reason, FinishReason::kLength);
  EXPECT_EQ(out.final_event.usage.prompt_tokens, 9);
  EXPECT_EQ(out.final_event.usage.completion_tokens, 12);

  auto ref = ReferenceModel::create(f.model.config, f.model.weights);
  ASSERT_TRUE(ref.is_ok());
  ReferenceSequence seq;
  std::vector<std::int32_t> expected;
  auto logits = ref->forward(seq, ids);
  ASSERT_TRUE(logits.is_ok());
  for (int i = 0; i < 12; ++i) {
    std::int32_t t = argmax(*logits);
    expected.push_back(t);
    std::int32_t one[1] = {t};
    logits = ref->forward(seq, one);
    ASSERT_TRUE(logits.is_ok());
  }
  EXPECT_EQ(out.tokens, expected);
  EXPECT_TRUE(wait_for_stats(*f.loop, [](const EngineStats& s) { return s.kv_used_blocks == 0 && s.in_flight == 0; }));
}

TEST(EngineLoop, ConcurrentRequestsGiveTheirAloneTokens) {
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(greedy(prompt(3 + 2 * static_cast<std::size_t>(i), i), 6 + i));
  std::vector<std::vector<std::int32_t>> alone;
  {
    Fixture f;
    for (const auto& r : requests) alone.push_back(run_alone(f, r).tokens);
  }
  Fixture f(64, {.max_num_batched_tokens = 32});
  std::vector<std::unique_ptr<EngineStream>> streams;
  for (const auto& r : requests) {
    auto s = f.loop->submit(r);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    streams.push_back(std::move(s).value());
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    Outcome out = drain(*streams[i]);
    EXPECT_EQ(out.final_event.kind, EngineEvent::Kind::kFinished);
    EXPECT_EQ(out.tokens, alone[i]) << "request " << i;
  }
  EngineStats s = f.loop->stats();
  // Batched: fewer forward passes than the requests' tokens in total.
  EXPECT_LT(s.iterations, s.generated_tokens);
}

TEST(EngineLoop, CancellationFreesBlocksAtOnce) {
  RandomModel model = make_random_model(tiny_config(), DType::kF32, 7);
  auto inner = std::move(CpuModelBackend::create(model.config, model.weights, 64, 4, {.threads = 2})).value();
  GatedBackend gated(*inner);
  auto loop = std::move(EngineLoop::create(gated)).value();
  auto s = loop->submit(greedy(prompt(20, 3), 0));  // up to the context
  ASSERT_TRUE(s.is_ok());
  gated.allow(1);  // the prefill: first token
  auto first = (*s)->next(30s);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->kind, EngineEvent::Kind::kToken);
  gated.wait_blocked();  // the loop is inside the next iteration's forward
  EXPECT_GT(loop->stats().kv_used_blocks, 0);
  (*s)->cancel();
  EngineStats st = loop->stats();
  EXPECT_EQ(st.kv_used_blocks, 0);
  EXPECT_EQ(st.in_flight, 0);
  auto after = (*s)->next(1ms);
  EXPECT_EQ(after.status().code(), StatusCode::kCancelled);
  gated.allow(1000);
  // Destroying a stream cancels too.
  auto s2 = loop->submit(greedy(prompt(20, 4), 0));
  ASSERT_TRUE(s2.is_ok());
  ASSERT_TRUE((*s2)->next(30s).is_ok());
  s2->reset();
  EXPECT_EQ(loop->stats().kv_used_blocks, 0);
  // The loop still serves.
  auto s3 = loop->submit(greedy(prompt(5, 5), 3));
  ASSERT_TRUE(s3.is_ok());
  Outcome out = drain(**s3);
  EXPECT_EQ(out.tokens.size(), 3u);
  gated.allow(1 << 20);
}

TEST(EngineLoop, EndOfGenerationStops) {
  Fixture f;
  Outcome free_run = run_alone(f, greedy(prompt(7, 6), 10));
  ASSERT_EQ(free_run.tokens.size(), 10u);
  EngineRequest r = greedy(prompt(7, 6), 10);
  r.eog_ids = {free_run.tokens[3]};
  Outcome out = run_alone(f, r);
  // Stops at the first occurrence of the EOG token, which is not emitted.
  std::size_t first = 0;
  while (free_run.tokens[first] != free_run.tokens[3]) ++first;
  EXPECT_EQ(out.final_event.reason, FinishReason::kStop);
  EXPECT_EQ(out.tokens, std::vector<std::int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + static_cast<long>(first)));
  EXPECT_EQ(out.final_event.usage.completion_tokens, static_cast<std::int64_t>(first) + 1);
}

TEST(EngineLoop, ContextBoundsRequests) {
  Fixture f;
  const std::int64_t ctx = f.model.config.context_length;  // 128
  auto refused = f.loop->submit(greedy(prompt(static_cast<std::size_t>(ctx), 1), 4));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "prompt of 128 tokens exceeds the context of 128 tokens "
                                        "(room for one generated token is needed)");
  // Generation that reaches the context ends with length.
  Outcome out = run_alone(f, greedy(prompt(static_cast<std::size_t>(ctx - 3), 2), 50));
  EXPECT_EQ(out.final_event.reason, FinishReason::kLength);
  EXPECT_EQ(out.tokens.size(), 3u);
  // An empty prompt and an id outside the vocabulary are refused.
  EXPECT_EQ(f.loop->submit(greedy({}, 4)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.loop->submit(greedy({1, 256}, 4)).status().code(), StatusCode::kInvalidArgument);
}

TEST(EngineLoop, PreemptionRecomputesAndKeepsTokens) {
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(greedy(prompt(10, 10 + i), 20));
  std::vector<std::vector<std::int32_t>> alone;
  {
    Fixture f;
    for (const auto& r : requests) alone.push_back(run_alone(f, r).tokens);
  }
  // 24 blocks of 4 slots = 96 tokens; the six requests need 30 each.
  Fixture f(24, {.max_num_batched_tokens = 64});
  std::vector<std::unique_ptr<EngineStream>> streams;
  for (const auto& r : requests) streams.push_back(std::move(f.loop->submit(r)).value());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    Outcome out = drain(*streams[i]);
    EXPECT_EQ(out.final_event.kind, EngineEvent::Kind::kFinished);
    EXPECT_EQ(out.tokens, alone[i]) << "request " << i;
  }
  EngineStats s = f.loop->stats();
  EXPECT_GT(s.preemptions, 0);
  EXPECT_EQ(s.kv_used_blocks, 0);
}

TEST(EngineLoop, FullWaitingQueueRefuses) {
  // One running sequence at a time, a waiting queue of 2, and no iteration completes meanwhile.
  RandomModel model = make_random_model(tiny_config(), DType::kF32, 7);
  auto inner = std::move(CpuModelBackend::create(model.config, model.weights, 64, 4, {.threads = 2})).value();
  GatedBackend gated(*inner);
  auto loop = std::move(EngineLoop::create(gated, {.max_num_seqs = 1, .max_waiting = 2})).value();
  std::vector<std::unique_ptr<EngineStream>> streams;
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    auto s = loop->submit(greedy(prompt(8, i), 100));
    if (s.is_ok()) {
      streams.push_back(std::move(s).value());
    } else {
      EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
      ++refused;
    }
  }
  // Two wait, and at most one more was admitted to run before the others came: 5 or 6 refused.
  EXPECT_GE(refused, 5);
  EXPECT_LE(refused, 6);
  EXPECT_EQ(loop->stats().rejected, refused);
  streams.clear();
  EXPECT_EQ(loop->stats().kv_used_blocks, 0);
  gated.allow(1 << 20);
}

TEST(EngineLoop, SeededSamplingIsReproducible) {
  Fixture f;
  EngineRequest r = greedy(prompt(6, 9), 16);
  r.sampling = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .seed = 42};
  Outcome a = run_alone(f, r);
  Outcome b = run_alone(f, r);
  EXPECT_EQ(a.tokens, b.tokens);
  r.sampling.seed = 43;
  Outcome c = run_alone(f, r);
  EXPECT_NE(a.tokens, c.tokens);
}

// A Signal for plain threads (the Clock port's one-shot latch).
class ThreadSignal final : public Signal {
 public:
  void notify() override {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool notified() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }
  bool wait_until(double) override {  // the test's own bound: 30 s
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

TEST(EngineLoop, NotifyOnEventWakesAtTokensAndCancellation) {
  RandomModel model = make_random_model(tiny_config(), DType::kF32, 7);
  auto inner = std::move(CpuModelBackend::create(model.config, model.weights, 64, 4, {.threads = 2})).value();
  GatedBackend gated(*inner);
  auto loop = std::move(EngineLoop::create(gated)).value();
  auto s = loop->submit(greedy(prompt(12, 3), 0));
  ASSERT_TRUE(s.is_ok());
  gated.wait_blocked();  // the prefill waits: no event can come
  auto armed = std::make_shared<ThreadSignal>();
  (*s)->notify_on_event(armed);
  EXPECT_FALSE(armed->notified());
  gated.allow(1);  // the first token
  EXPECT_TRUE(armed->wait_until(0));
  auto token = (*s)->try_next();
  ASSERT_TRUE(token.is_ok() && token->has_value());
  EXPECT_EQ((*token)->kind, EngineEvent::Kind::kToken);
  gated.allow(1);
  gated.wait_blocked();  // the second token is queued, the third forward waits
  auto queued = std::make_shared<ThreadSignal>();
  (*s)->notify_on_event(queued);
  EXPECT_TRUE(queued->notified()) << "an event was already queued";
  ASSERT_TRUE((*s)->try_next().is_ok());
  auto at_cancel = std::make_shared<ThreadSignal>();
  (*s)->notify_on_event(at_cancel);
  EXPECT_FALSE(at_cancel->notified());
  (*s)->cancel();
  EXPECT_TRUE(at_cancel->notified());
  gated.allow(1 << 20);
}

TEST(EngineLoop, StreamOutlivesLoop) {
  auto f = std::make_unique<Fixture>();
  auto s = f->loop->submit(greedy(prompt(8, 1), 0));
  ASSERT_TRUE(s.is_ok());
  f->loop.reset();
  // Tokens already streamed, then the loop's end.
  for (;;) {
    auto e = (*s)->next(30s);
    ASSERT_TRUE(e.is_ok());
    if (e->kind == EngineEvent::Kind::kToken) continue;
    EXPECT_EQ(e->kind, EngineEvent::Kind::kError);
    EXPECT_EQ(e->error.code(), StatusCode::kUnavailable);
    break;
  }
}

}  // namespace
}  // namespace chatscale::engine
