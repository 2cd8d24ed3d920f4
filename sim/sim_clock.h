// The Clock port over SimGrid S4U: the simulated time line. now() is the engine's clock in simulated
// seconds; sleep_until and Signal::wait_until suspend the calling actor, never the process.
//
// Thread-safety: SimGrid runs actors one at a time (contexts/nthreads=1, the default), so one SimClock
// serves every actor of an engine.
// sleep_until, make_signal and the Signal methods must be called from an actor (maestro code, such as
// an engine callback, may only call now()). A Signal must not outlive the engine that created it.
// Failure behaviour: none reported; an actor killed while waiting unwinds out of the wait as SimGrid
// decides (forced unwind), the wait does not return.
#pragma once

#include <memory>

#include "ports/clock.h"

namespace chatscale {

class SimClock : public Clock {
 public:
  double now() const override;
  void sleep_until(double t) override;
  // A latch over an s4u::Mutex and s4u::ConditionVariable: waiters wake at the simulated instant of
  // notify(), or at their deadline (an infinite deadline waits for notify only).
  std::unique_ptr<Signal> make_signal() override;
};

}  // namespace chatscale
