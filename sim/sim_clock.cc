#include "sim/sim_clock.h"

#include <cmath>
#include <mutex>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/ConditionVariable.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Mutex.hpp>

namespace chatscale {
namespace {

namespace s4u = simgrid::s4u;

class SimSignal : public Signal {
 public:
  SimSignal() : mutex_(s4u::Mutex::create()), cv_(s4u::ConditionVariable::create()) {}

  void notify() override {
    std::unique_lock lock(*mutex_);
    notified_ = true;
    cv_->notify_all();
  }

  // Actors never run concurrently (sequential contexts), so reading the flag without the mutex is safe.
  bool notified() const override { return notified_; }

  bool wait_until(double deadline) override {
    std::unique_lock lock(*mutex_);
    if (std::isinf(deadline) && deadline > 0) {
      while (!notified_) cv_->wait(lock);
      return true;
    }
    // The loop absorbs wake-ups that are not ours; the deadline is absolute, so it never drifts.
    while (!notified_) {
      if (cv_->wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    return notified_;
  }

 private:
  s4u::MutexPtr mutex_;
  s4u::ConditionVariablePtr cv_;
  bool notified_ = false;  // guarded by mutex_ for writers
};

}  // namespace

double SimClock::now() const { return s4u::Engine::get_clock(); }

void SimClock::sleep_until(double t) { s4u::this_actor::sleep_until(t); }

std::unique_ptr<Signal> SimClock::make_signal() { return std::make_unique<SimSignal>(); }

}  // namespace chatscale
