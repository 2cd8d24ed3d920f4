// EngineBackend (the InferenceBackend port over EngineLoop + tokenizer + chat template) on a tiny
// random GGUF: deltas of complete UTF-8 whose token counts add up to the usage, done with the prompt
// counted by the model's tokenizer over the rendered chat template; greedy answers are reproducible;
// a prompt beyond the context is refused with the engine's message; cancelling frees the request.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "prod/engine/server/engine_backend.h"
#include "prod/engine/server/engine_runtime.h"
#include "prod/runtime/real_clock.h"
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

TEST(EngineRuntime, RefusesCudaAndBadFiles) {
  RealClock clock;
  EngineOptions o;
  o.model_path = "/nonexistent/model.gguf";
  auto missing = EngineRuntime::create(o, clock);
  EXPECT_FALSE(missing.is_ok());
  o.device = "cuda";
  auto cuda = EngineRuntime::create(o, clock);
  ASSERT_FALSE(cuda.is_ok());
  EXPECT_NE(cuda.status().message().find("--device cuda"), std::string::npos);
}

}  // namespace
}  // namespace chatscale::engine
