// A pool of SimGrid actors that run short jobs (one simulated message, one conversation). Creating an
// actor costs a context and a zeroed stack; at 10^5-10^6 jobs a run, reusing idle actors is cheaper.
// An idle worker suspends itself; submit() hands it a job and resumes it, or creates a worker when
// none is idle. Workers are daemons: the simulation ends when its non-daemon actors do, so the caller
// keeps a non-daemon actor alive until its jobs are done (see Simulation::traffic_actor).
// Thread-safety: SimGrid actors run one at a time on one thread; no locking needed.
#pragma once

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Host.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chatscale::sim {

class ActorPool {
 public:
  explicit ActorPool(std::string name) : name_(std::move(name)) {}
  ActorPool(const ActorPool&) = delete;
  ActorPool& operator=(const ActorPool&) = delete;

  void submit(simgrid::s4u::Host* host, std::function<void()> job);

  std::int64_t workers() const { return static_cast<std::int64_t>(workers_.size()); }
  std::int64_t busy() const { return workers() - static_cast<std::int64_t>(idle_.size()); }
  std::int64_t peak_busy() const { return peak_busy_; }

 private:
  struct Worker {
    simgrid::s4u::ActorPtr actor;
    std::function<void()> job;
  };
  void work(Worker* self);

  std::string name_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;
  std::int64_t peak_busy_ = 0;
};

}  // namespace chatscale::sim
