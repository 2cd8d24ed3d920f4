#include "prod/api/cancellable_backend.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "prod/runtime/task.h"

namespace chatscale::api {
namespace {

// Relays the upstream stream in slices so that a raised flag is seen while the model is silent.
class CancellableStream : public InferenceStream {
 public:
  CancellableStream(std::unique_ptr<InferenceStream> inner, std::shared_ptr<CancelFlag> flag, Clock& clock,
                    double poll_s)
      : inner_(std::move(inner)), flag_(std::move(flag)), clock_(clock), poll_s_(poll_s) {}

  Result<InferenceEvent> next(double deadline) override {
    const double until = deadline > 0 ? deadline : std::numeric_limits<double>::infinity();
    for (;;) {
      if (ended_) return failed_precondition("stream already finished");
      if (flag_->load()) return cancelled_end();
      double slice = std::min(until, clock_.now() + poll_s_);
      auto event = inner_ ? inner_->next(slice) : Result<InferenceEvent>(deadline_exceeded("cancelled stream"));
      if (event.is_ok()) {
        if (event->kind != InferenceEvent::Kind::kDelta) ended_ = true;
        return event;
      }
      if (event.status().code() != StatusCode::kDeadlineExceeded) return event;
      if (flag_->load()) return cancelled_end();
      if (clock_.now() >= until) return event;
    }
  }

  void cancel() override {
    if (inner_) inner_->cancel();
  }

 private:
  InferenceEvent cancelled_end() {
    ended_ = true;
    if (inner_) inner_->cancel();
    return InferenceEvent::done(Usage{}, FinishReason::kCancelled);
  }

  std::unique_ptr<InferenceStream> inner_;  // null when cancelled before the upstream started
  std::shared_ptr<CancelFlag> flag_;
  Clock& clock_;
  double poll_s_;
  bool ended_ = false;
};

}  // namespace

void CancelRegistry::enrol_current_task(std::shared_ptr<CancelFlag> flag) {
  const void* task = current_task();
  if (task == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  flags_[task] = std::move(flag);
}

void CancelRegistry::withdraw_current_task() {
  const void* task = current_task();
  if (task == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  flags_.erase(task);
}

std::shared_ptr<CancelFlag> CancelRegistry::current_flag() const {
  const void* task = current_task();
  if (task == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flags_.find(task);
  return it == flags_.end() ? nullptr : it->second;
}

CancellableBackend::CancellableBackend(InferenceBackend& inner, CancelRegistry& registry, Clock& clock,
                                       double poll_s)
    : inner_(inner), registry_(registry), clock_(clock), poll_s_(poll_s > 0 ? poll_s : 0.1) {}

Result<std::unique_ptr<InferenceStream>> CancellableBackend::start(const InferenceRequest& request) {
  auto flag = registry_.current_flag();
  if (!flag) return inner_.start(request);
  // Stopped before any backend was asked: end at once, without spending a generation.
  if (flag->load())
    return std::unique_ptr<InferenceStream>(std::make_unique<CancellableStream>(nullptr, flag, clock_, poll_s_));
  auto stream = inner_.start(request);
  if (!stream.is_ok()) return stream.status();
  return std::unique_ptr<InferenceStream>(
      std::make_unique<CancellableStream>(std::move(stream).value(), flag, clock_, poll_s_));
}

}  // namespace chatscale::api
