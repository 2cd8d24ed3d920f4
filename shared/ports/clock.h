// The clock port: the only way shared code learns the time or waits. Times are seconds (double) on the
// runtime's time line: simulated seconds in sim, Unix time in prod, whatever a test sets with a
// ManualClock. Decision components never call this; they take `now` as an argument.
//
// Waiting suspends the current task, not the thread: a SimGrid actor in sim, a stackful coroutine in
// prod. Adapters find the current task themselves (SimGrid's this_actor, a thread-local yield context),
// so one Clock serves every task of a process. Implementations must be safe to call from any task.
#pragma once

#include <memory>

namespace chatscale {

// A one-shot latch between tasks: notify() once, and every wait returns true from then on.
class Signal {
 public:
  virtual ~Signal() = default;
  virtual void notify() = 0;
  virtual bool notified() const = 0;
  // Suspends the task until notify() or the deadline, whichever comes first; true when notified.
  virtual bool wait_until(double deadline) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now() const = 0;
  // Suspends the task until the time line reaches t (returns at once when t is past).
  virtual void sleep_until(double t) = 0;
  virtual std::unique_ptr<Signal> make_signal() = 0;

  void sleep_for(double seconds) { sleep_until(now() + seconds); }
};

// Forwards every call to another clock, so a decorator overrides only what it changes (leveldb's
// EnvWrapper). The target must outlive the wrapper.
class ClockWrapper : public Clock {
 public:
  explicit ClockWrapper(Clock& target) : target_(target) {}
  double now() const override { return target_.now(); }
  void sleep_until(double t) override { target_.sleep_until(t); }
  std::unique_ptr<Signal> make_signal() override { return target_.make_signal(); }

 protected:
  Clock& target() { return target_; }

 private:
  Clock& target_;
};

}  // namespace chatscale
