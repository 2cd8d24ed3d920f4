// EngineBackend (the InferenceBackend port over EngineLoop + tokenizer + chat template) on a tiny
// random GGUF: deltas of complete UTF-8 whose token counts add up to the usage, done with the prompt
// counted by the model's tokenizer over the rendered chat template; greedy answers are reproducible;
// a prompt beyond the context is refused with the engine's message; cancelling frees the request;
// a seed makes sampling (temperature 1, top_p 0.9) reproducible and another seed changes it; a stop
// string ends the answer just before it (finish stop) and frees the sequence's KV blocks at once.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "prod/engine/server/engine_backend.h"
#include "prod/engine/server/engine_runtime.h"
#include "prod/runtime/real_clock.h"
#include "tests/prod/engine/server/stop_pick.h"
#include "tests/prod/engine/server/tiny_gguf.h"

namespace chatscale::engine {
namespace {

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

struct Answer {
  std::string text;
  std::int64_t delta_tokens = 0;
  InferenceEvent done;
};

Answer drain(InferenceStream& stream, Clock& clock) {
  Answer a;
  for (;;) {
    auto e = stream.next(clock.now() + 30);
    EXPECT_TRUE(e.is_ok()) << e.status().message();
    if (!e.is_ok()) return a;
    if (e->kind == InferenceEvent::Kind::kDelta) {
      EXPECT_TRUE(valid_utf8(e->text));
      a.text += e->text;
      a.delta_tokens += e->tokens;
      continue;
    }
    a.done = *e;
    return a;
  }
}

class EngineBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(model_.status().is_ok()) << model_.status().message();
    EngineOptions o;
    o.model_path = model_.path();
    o.threads = 1;
    o.kv_blocks = 64;
    auto rt = EngineRuntime::create(o, clock_);
    ASSERT_TRUE(rt.is_ok()) << rt.status().message();
    runtime_ = std::move(rt).value();
  }

  InferenceRequest request(std::string text, std::int64_t max_tokens) {
    InferenceRequest r;
    r.request_id = "r1";
    r.messages = {{Role::kSystem, "You are terse."}, {Role::kUser, std::move(text)}};
    r.max_tokens = max_tokens;
    r.temperature = 0;
    return r;
  }

  testing::TinyGguf model_;
  RealClock clock_;
  std::unique_ptr<EngineRuntime> runtime_;
};

TEST_F(EngineBackendTest, StreamsDeltasAndDoneWithUsage) {
  EngineBackend& backend = runtime_->backend();
  EXPECT_EQ(backend.config().model, "tiny");
  InferenceRequest r = request("Hello there, how are you?", 12);
  auto ids = backend.encode_messages(r.messages);
  ASSERT_TRUE(ids.is_ok());
  // The Llama-3 template: the prompt starts with <|begin_of_text|> and ends with the assistant header.
  EXPECT_EQ(ids->front(), backend.tokenizer().bos());
  auto stream = backend.start(r);
  ASSERT_TRUE(stream.is_ok()) << stream.status().message();
  Answer a = drain(**stream, clock_);
  ASSERT_EQ(a.done.kind, InferenceEvent::Kind::kDone);
  EXPECT_EQ(a.done.usage.prompt_tokens, static_cast<std::int64_t>(ids->size()));
  if (a.done.finish_reason == FinishReason::kLength) {
    EXPECT_EQ(a.done.usage.completion_tokens, 12);
    EXPECT_EQ(a.delta_tokens, 12);
  } else {
    EXPECT_EQ(a.done.finish_reason, FinishReason::kStop);  // an end-of-generation token, not streamed
    EXPECT_EQ(a.delta_tokens + 1, a.done.usage.completion_tokens);
  }
  auto again = (*stream)->next(clock_.now() + 1);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  // Greedy: the same request gives the same text.
  auto second = backend.start(r);
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(drain(**second, clock_).text, a.text);
}

TEST_F(EngineBackendTest, PromptBeyondTheContextIsRefused) {
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word" + std::to_string(i) + " ";
  auto stream = runtime_->backend().start(request(long_text, 4));
  ASSERT_FALSE(stream.is_ok());
  EXPECT_EQ(stream.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(stream.status().message().find("exceeds the context of 256 tokens"), std::string::npos)
      << stream.status().message();
}

TEST_F(EngineBackendTest, CancelFreesTheRequest) {
  EngineBackend& backend = runtime_->backend();
  auto stream = backend.start(request("Tell me a long story.", 200));
  ASSERT_TRUE(stream.is_ok());
  auto first = (*stream)->next(clock_.now() + 30);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(backend.load().capacity, runtime_->loop().capacity());
  stream->reset();
  EXPECT_EQ(backend.load().in_flight, 0);
  EXPECT_EQ(runtime_->loop().stats().kv_used_blocks, 0);
}

TEST_F(EngineBackendTest, SeedMakesSamplingReproducible) {
  EngineBackend& backend = runtime_->backend();
  auto sample = [&](std::string id, std::optional<std::uint64_t> seed) {
    InferenceRequest r = request("Tell me something.", 24);
    r.request_id = std::move(id);
    r.temperature = 1.0;
    r.top_p = 0.9;
    r.seed = seed;
    auto stream = backend.start(r);
    EXPECT_TRUE(stream.is_ok()) << stream.status().message();
    return stream.is_ok() ? drain(**stream, clock_).text : std::string();
  };
  const std::string a = sample("a", 7);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(sample("b", 7), a) << "the same seed under another request id";
  EXPECT_NE(sample("c", 8), a) << "another seed (24 sampled tokens from a random model)";
  EXPECT_NE(sample("d", std::nullopt), sample("e", std::nullopt)) << "no seed: derived from the request id";
  InferenceRequest bad = request("x", 4);
  bad.top_p = 0;
  EXPECT_EQ(backend.start(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineBackendTest, StopStringEndsTheAnswerAndFreesTheBlocks) {
  EngineBackend& backend = runtime_->backend();
  InferenceRequest r = request("Tell me a long story.", 40);
  auto greedy = backend.start(r);
  ASSERT_TRUE(greedy.is_ok());
  Answer full = drain(**greedy, clock_);
  greedy->reset();
  testing::StopPick pick = testing::pick_stop(full.text);
  ASSERT_FALSE(pick.stop.empty()) << "greedy answer too short: \"" << full.text << "\"";

  r.stop = {"\x01never", pick.stop};
  auto stream = backend.start(r);
  ASSERT_TRUE(stream.is_ok());
  Answer cut = drain(**stream, clock_);
  EXPECT_EQ(cut.text, pick.expected) << "stop \"" << pick.stop << "\" in \"" << full.text << "\"";
  EXPECT_EQ(cut.done.finish_reason, FinishReason::kStop);
  EXPECT_EQ(cut.done.usage.prompt_tokens, full.done.usage.prompt_tokens);
  EXPECT_EQ(cut.done.usage.completion_tokens, cut.delta_tokens);
  EXPECT_LE(cut.done.usage.completion_tokens, full.done.usage.completion_tokens);
  // The stream object still lives: the sequence was cancelled at the stop, not at destruction.
  EXPECT_EQ(runtime_->loop().stats().kv_used_blocks, 0);
  EXPECT_EQ(backend.load().in_flight, 0);
}

// (--device cuda where it cannot run: engine_device_test.)
TEST(EngineRuntime, RefusesBadFiles) {
  RealClock clock;
  EngineOptions o;
  o.model_path = "/nonexistent/model.gguf";
  auto missing = EngineRuntime::create(o, clock);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model.gguf"), std::string::npos) << missing.status().message();
}

}  // namespace
}  // namespace chatscale::engine
