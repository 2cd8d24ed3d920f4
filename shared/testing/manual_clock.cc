#include "testing/manual_clock.h"

#include <algorithm>
#include <atomic>

namespace chatscale::testing {
namespace {

class ManualSignal : public Signal {
 public:
  explicit ManualSignal(ManualClock& clock) : clock_(clock) {}
  void notify() override { notified_ = true; }
  bool notified() const override { return notified_; }
  // Nothing else runs while a single-task test waits, so an unnotified wait times out at once.
  bool wait_until(double deadline) override {
    if (notified_) return true;
    clock_.sleep_until(deadline);
    return notified_;
  }

 private:
  ManualClock& clock_;
  std::atomic<bool> notified_{false};
};

}  // namespace

double ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void ManualClock::sleep_until(double t) {
  std::lock_guard lock(mu_);
  now_ = std::max(now_, t);
}

std::unique_ptr<Signal> ManualClock::make_signal() { return std::make_unique<ManualSignal>(*this); }

void ManualClock::advance(double seconds) {
  std::lock_guard lock(mu_);
  now_ += std::max(0.0, seconds);
}

void ManualClock::set(double t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

}  // namespace chatscale::testing
