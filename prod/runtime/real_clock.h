// The Clock port for prod: the time line is Unix time in seconds (system_clock, as a double).
//
// Waiting suspends the current task when there is one (a coroutine started with spawn_task(), found
// through current_task()): sleep_until arms a steady_timer on the task's executor and yields, so the
// io_context thread keeps running other tasks. Outside any task (a plain thread, main, a handler that
// is not a task) the calling thread blocks. Deadlines are converted to steady-clock waits and
// re-checked against now() on waking, so a wait never returns before the time line reaches its
// deadline; a wall-clock step while waiting shifts the wake-up by the step.
//
// Thread-safety: RealClock is stateless and safe from any thread and task. A Signal may be notified
// from any thread; waiters may be tasks and threads at once. A Signal must outlive its waits.
// Failure behaviour: none reported; timer errors end a wait early and it re-checks its deadline.
#pragma once

#include <memory>

#include "ports/clock.h"

namespace chatscale {

class RealClock : public Clock {
 public:
  double now() const override;
  void sleep_until(double t) override;
  // notify() wakes task waiters by cancelling their timer (posted to the timer's executor, so it is
  // safe from any thread) and thread waiters through a condition variable.
  std::unique_ptr<Signal> make_signal() override;
};

}  // namespace chatscale
