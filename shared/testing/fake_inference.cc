#include "testing/fake_inference.h"

#include <sstream>
#include <vector>

namespace chatscale::testing {

// Replays the script: event i is due at start + first_token_delay + i * token_interval.
class FakeStream : public InferenceStream {
 public:
  FakeStream(FakeInferenceBackend& backend, const FakeScript& script, std::int64_t prompt_tokens,
             std::int64_t max_tokens)
      : backend_(backend), script_(script), start_(backend.clock_.now()), prompt_tokens_(prompt_tokens) {
    std::istringstream words(script.reply);
    std::string w;
    while (words >> w && static_cast<std::int64_t>(pieces_.size()) < max_tokens)
      pieces_.push_back(pieces_.empty() ? w : " " + w);
    truncated_ = static_cast<std::int64_t>(pieces_.size()) == max_tokens && words >> w;
    ++backend_.in_flight_;
  }
  ~FakeStream() override { finish(); }

  Result<InferenceEvent> next(double deadline) override {
    if (finished_) return failed_precondition("stream already finished");
    double due = due_time();
    if (deadline > 0 && due > deadline) {
      backend_.clock_.sleep_until(deadline);
      return deadline_exceeded("no token before the deadline");
    }
    backend_.clock_.sleep_until(due);
    return produce();
  }

  void cancel() override {
    if (!finished_) ++backend_.cancels_;
    finish();
  }

 private:
  double due_time() const {
    if (script_.fail_before_first_token) return start_ + script_.first_token_delay;
    double t = start_ + script_.first_token_delay + static_cast<double>(next_) * script_.token_interval;
    if (next_ >= 1) t += script_.silent_after_first;
    return t;
  }

  InferenceEvent produce() {
    auto n = static_cast<std::int64_t>(pieces_.size());
    if (script_.fail_before_first_token || (script_.fail_after_tokens >= 0 && next_ == script_.fail_after_tokens)) {
      finish();
      return InferenceEvent::failure(unavailable("fake backend " + backend_.name() + " failed"));
    }
    if (next_ < n) return InferenceEvent::delta(pieces_[static_cast<std::size_t>(next_++)], 1);
    finish();
    return InferenceEvent::done(Usage{prompt_tokens_, n}, truncated_ ? FinishReason::kLength : FinishReason::kStop);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    --backend_.in_flight_;
  }

  FakeInferenceBackend& backend_;
  FakeScript script_;
  double start_;
  std::int64_t prompt_tokens_;
  std::vector<std::string> pieces_;
  bool truncated_ = false;
  std::int64_t next_ = 0;
  bool finished_ = false;
};

FakeInferenceBackend::FakeInferenceBackend(Clock& clock, std::string name, FakeScript script)
    : clock_(clock), name_(std::move(name)), script_(std::move(script)) {}

BackendLoad FakeInferenceBackend::load() const {
  return BackendLoad{healthy_.load(), in_flight_.load(), 0, ""};
}

Result<std::unique_ptr<InferenceStream>> FakeInferenceBackend::start(const InferenceRequest& request) {
  ++starts_;
  last_request_ = request;
  if (script_.refuse) return unavailable("fake backend " + name_ + " is full");
  std::unique_ptr<InferenceStream> s =
      std::make_unique<FakeStream>(*this, script_, request.prompt_tokens, request.max_tokens);
  return s;
}

}  // namespace chatscale::testing
