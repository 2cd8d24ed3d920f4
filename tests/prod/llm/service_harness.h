// The shared MessageService assembled over in-memory ports (MemoryStore, MemoryRateLimitStore, the
// built-in moderator, MemoryMetrics) and the backends under test, as tests/shared/service does it,
// plus a sink that records what reached the client. Header-only test support; one test at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moderation/moderator.h"
#include "ports/stream_sink.h"
#include "ports/tokenizer.h"
#include "ratelimit/memory_rate_limit_store.h"
#include "ratelimit/rate_limiter.h"
#include "service/message_service.h"
#include "testing/memory_metrics.h"
#include "testing/memory_stores.h"

namespace chatscale::testing {

class RecordingSink : public StreamSink {
 public:
  bool on_user_message(const Message& m) override {
    user = m;
    ++begins;
    return true;
  }
  bool on_delta(std::string_view piece, std::int64_t n, std::int64_t) override {
    text += piece;
    tokens += n;
    ++deltas;
    return true;
  }
  bool on_heartbeat() override {
    ++heartbeats;
    return true;
  }
  void on_done(const Message& m) override {
    done = m;
    ++dones;
  }

  Message user, done;
  std::string text;
  std::int64_t tokens = 0;
  int begins = 0, deltas = 0, heartbeats = 0, dones = 0;
};

struct ServiceHarness {
  ServiceHarness(Clock& clock, std::vector<InferenceBackend*> backends, MessageServiceConfig config = {})
      : rate_store(clock),
        limiter(rate_store, {Tier{"plus", 1000, 1'000'000, 16, 2048, 1, 1}}),
        service(MessagePorts{clock, store, store, store, metrics, tokenizer, std::move(backends)},
                MessageComponents{limiter, Moderator::builtin()}, config) {
    conversation = store.create_conversation("alice", "chat", clock.now())->value.id;
  }

  SendRequest request(std::string content, std::int64_t max_tokens = 200) const {
    SendRequest r;
    r.caller.user_id = "alice";
    r.caller.tier = "plus";
    r.conversation_id = conversation;
    r.content = std::move(content);
    r.max_tokens = max_tokens;
    return r;
  }

  std::vector<Message> stored() const { return store.all_messages(conversation); }

  MemoryStore store;
  MemoryMetrics metrics;
  ApproximateTokenizer tokenizer;
  MemoryRateLimitStore rate_store;
  RateLimiter limiter;
  MessageService service;
  std::string conversation;
};

}  // namespace chatscale::testing
