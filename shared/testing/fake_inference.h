// A deterministic inference backend: it streams a scripted reply word by word on the given clock, and
// can be told to refuse, fail before the first token, or fail after N tokens. Counts what happened so
// tests can assert retries and cancellation. Thread-safe counters; one stream per task.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "ports/clock.h"
#include "ports/inference.h"

namespace chatscale::testing {

struct FakeScript {
  std::string reply = "Hello! This is a deterministic answer from the fake backend.";
  double first_token_delay = 0.2;   // seconds from start to the first token
  double token_interval = 0.02;     // seconds between tokens
  bool refuse = false;              // start() returns Unavailable
  bool fail_before_first_token = false;
  std::int64_t fail_after_tokens = -1;  // -1: never
  double silent_after_first = 0;    // extra pause after the first token (heartbeat tests)
};

class FakeInferenceBackend : public InferenceBackend {
 public:
  FakeInferenceBackend(Clock& clock, std::string name, FakeScript script = {});

  const std::string& name() const override { return name_; }
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  void set_script(FakeScript script) { script_ = std::move(script); }
  void set_healthy(bool healthy) { healthy_ = healthy; }
  std::int64_t starts() const { return starts_; }
  std::int64_t cancels() const { return cancels_; }
  std::int64_t in_flight() const { return in_flight_; }
  const InferenceRequest& last_request() const { return last_request_; }

 private:
  friend class FakeStream;
  Clock& clock_;
  std::string name_;
  FakeScript script_;
  InferenceRequest last_request_;
  std::atomic<bool> healthy_{true};
  std::atomic<std::int64_t> starts_{0};
  std::atomic<std::int64_t> cancels_{0};
  std::atomic<std::int64_t> in_flight_{0};
};

}  // namespace chatscale::testing
