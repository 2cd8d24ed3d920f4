// Test helpers for the OpenAI backend: SSE chunk builders in OpenAI's wire shape, a stream reader,
// and a fixture base that runs a test body as a task in an io_context next to fake upstreams.
// Header-only test support.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "prod/llm/openai_backend.h"
#include "prod/runtime/real_clock.h"
#include "prod/runtime/task.h"
#include "tests/prod/llm/fake_upstream.h"

namespace chatscale::testing {

inline std::string sse(const nlohmann::json& chunk) { return "data: " + chunk.dump() + "\n\n"; }
inline const std::string kSseDone = "data: [DONE]\n\n";

inline nlohmann::json chunk_with(nlohmann::json delta, const std::string& finish_reason = "") {
  nlohmann::json choice = {{"index", 0},
                           {"delta", std::move(delta)},
                           {"finish_reason", finish_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(finish_reason)}};
  return {{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"created", 1}, {"model", "upstream-model"},
          {"choices", nlohmann::json::array({choice})}};
}
inline std::string content_chunk(const std::string& text, const std::string& finish_reason = "") {
  return sse(chunk_with({{"content", text}}, finish_reason));
}
inline std::string role_chunk() { return sse(chunk_with({{"role", "assistant"}, {"content", ""}})); }
inline std::string usage_chunk(std::int64_t prompt, std::int64_t completion) {
  return sse({{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"choices", nlohmann::json::array()},
              {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion},
                         {"total_tokens", prompt + completion}}}});
}

inline UpstreamReply stream_reply(std::vector<std::string> chunks) {
  UpstreamReply r;
  r.chunks = std::move(chunks);
  return r;
}
inline UpstreamReply status_reply(int status, std::string body) {
  UpstreamReply r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}
// "Hello", ", world", "!" then usage {21, 3} and [DONE].
inline UpstreamReply hello_reply() {
  return stream_reply({role_chunk() + content_chunk("Hello"), content_chunk(", world"), content_chunk("!", "stop"),
                       usage_chunk(21, 3), kSseDone});
}

// What a stream gave until its end (or a failed next()).
struct Collected {
  std::vector<std::string> pieces;
  std::vector<std::int64_t> tokens;
  std::optional<InferenceEvent> end;  // kDone or kError
  Status failure;                     // a next() that returned an error status
  std::string text() const {
    std::string t;
    for (const auto& p : pieces) t += p;
    return t;
  }
};

inline Collected read_all(InferenceStream& stream, const Clock& clock) {
  Collected c;
  for (;;) {
    auto event = stream.next(clock.now() + 10);
    if (!event.is_ok()) {
      c.failure = event.status();
      return c;
    }
    if (event->kind != InferenceEvent::Kind::kDelta) {
      c.end = std::move(event).value();
      return c;
    }
    c.pieces.push_back(event->text);
    c.tokens.push_back(event->tokens);
  }
}

// A fixture: an io_context, a real clock and one fake upstream; run(body) runs the body as a task,
// then stops the backends and closes the upstreams it was told about, and runs until every task ended.
class UpstreamTest : public ::testing::Test {
 protected:
  OpenAiBackendConfig config_for(const FakeUpstream& upstream, std::string name = "up-a") const {
    OpenAiBackendConfig c;
    c.name = std::move(name);
    c.url = upstream.url();
    c.model = "upstream-model";
    c.api_key = "sk-test";
    c.region = "eu";
    c.connect_timeout_s = 5;
    c.response_timeout_s = 10;
    c.health_interval_s = 0.05;
    return c;
  }

  std::unique_ptr<OpenAiBackend> make(const OpenAiBackendConfig& config) {
    auto backend = OpenAiBackend::create(clock_, config);
    EXPECT_TRUE(backend.is_ok()) << backend.status().to_string();
    if (!backend.is_ok()) return nullptr;
    backends_.push_back(backend->get());
    return std::move(backend).value();
  }

  InferenceRequest request(std::int64_t max_tokens = 64) const {
    InferenceRequest r;
    r.request_id = "req-1";
    r.model = "default";
    r.messages = {{Role::kSystem, "You are terse."}, {Role::kUser, "Say hello."}};
    r.prompt_tokens = 9;
    r.max_tokens = max_tokens;
    r.temperature = 0.5;
    return r;
  }

  void also_close(FakeUpstream& upstream) { upstreams_.push_back(&upstream); }

  void run(const std::function<void()>& body) {
    bool finished = false;
    spawn_task(ioc_, [&](TaskYield) {
      body();
      for (auto* b : backends_) b->stop();
      for (auto* u : upstreams_) u->close();
      finished = true;
    });
    ioc_.run_for(std::chrono::seconds(60));
    EXPECT_TRUE(finished) << "the test task did not finish";
    EXPECT_TRUE(ioc_.stopped()) << "tasks were still running after the test";
  }

  // Polls `condition` every 10 ms (suspending the task) until it holds or 10 s pass.
  bool eventually(const std::function<bool()>& condition) {
    double deadline = clock_.now() + 10;
    while (!condition()) {
      if (clock_.now() > deadline) return false;
      clock_.sleep_for(0.01);
    }
    return true;
  }

  boost::asio::io_context ioc_;
  RealClock clock_;
  FakeUpstream up_{ioc_};
  std::vector<OpenAiBackend*> backends_;
  std::vector<FakeUpstream*> upstreams_{&up_};
};

}  // namespace chatscale::testing
