// A clock that moves only when told to (advance/set) or when a task waits: sleeping and timed-out waits
// jump the time line forward at once, like a discrete-event simulator with one task. Deterministic;
// thread-safe (a mutex guards the time), but meant for single-task tests.
#pragma once

#include <memory>
#include <mutex>

#include "ports/clock.h"

namespace chatscale::testing {

class ManualClock : public Clock {
 public:
  explicit ManualClock(double start = 1'700'000'000.0) : now_(start) {}

  double now() const override;
  void sleep_until(double t) override;
  std::unique_ptr<Signal> make_signal() override;

  void advance(double seconds);
  void set(double t);

 private:
  mutable std::mutex mu_;
  double now_;  // guarded by mu_
};

}  // namespace chatscale::testing
