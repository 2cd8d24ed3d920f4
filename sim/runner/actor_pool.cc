#include "sim/runner/actor_pool.h"

#include <algorithm>
#include <memory>

namespace chatscale::sim {

void ActorPool::submit(simgrid::s4u::Host* host, std::function<void()> job) {
  if (idle_.empty()) {
    auto worker = std::make_unique<Worker>();
    Worker* w = worker.get();
    w->job = std::move(job);
    workers_.push_back(std::move(worker));
    w->actor = simgrid::s4u::Actor::create(name_ + std::to_string(workers_.size()), host, [this, w] { work(w); });
    w->actor->daemonize();
  } else {
    Worker* w = idle_.back();
    idle_.pop_back();
    w->job = std::move(job);
    w->actor->resume();
  }
  peak_busy_ = std::max(peak_busy_, busy());
}

void ActorPool::work(Worker* self) {
  for (;;) {
    std::function<void()> job = std::move(self->job);
    self->job = nullptr;
    job();
    idle_.push_back(self);
    simgrid::s4u::this_actor::suspend();
  }
}

}  // namespace chatscale::sim
