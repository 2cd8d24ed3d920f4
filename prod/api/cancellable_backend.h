// Stopping a generation from outside its task, without changing the shared message flow.
//
// MessageService::send() has no cancel input: a client that goes away does not stop it, by design.
// A user's explicit stop (POST .../stop), an OpenAI client that disconnects, and shutdown do stop it.
// The server therefore wraps every inference backend in a CancellableBackend: the task that runs a
// send() enrols a cancel flag in the CancelRegistry under its own task identity (current_task()), and
// every stream the wrapped backends start from that task watches the flag. Once it is raised, the
// stream cancels the upstream generation and reports a normal end with finish reason "cancelled", so
// the shared flow stores the partial answer (status partial), bills the tokens produced and releases
// its rate-limit slot exactly as for any other end.
//
// A stream is woken for a raised flag at its next event, or within `poll_s` while the model is silent
// (the wrapper reads the upstream in slices of at most poll_s; a slice that times out is not an
// error).
//
// Ownership: the wrapper borrows its backend, registry and clock (all must outlive it); a stream holds
// its flag by shared_ptr. Thread-safety: the registry may be used from any thread; a flag may be
// raised from any thread; a stream is used by the task that started it (as the port requires).
// Failure behaviour: a cancelled stream never fails; it ends with kDone / kCancelled and usage left
// empty (the flow counts the tokens it relayed).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ports/clock.h"
#include "ports/inference.h"

namespace chatscale::api {

using CancelFlag = std::atomic<bool>;

class CancelRegistry {
 public:
  // Enrols `flag` for the calling task (a task started with spawn_task); no-op outside a task.
  void enrol_current_task(std::shared_ptr<CancelFlag> flag);
  void withdraw_current_task();
  // The calling task's flag, or nullptr (not enrolled, or outside a task).
  std::shared_ptr<CancelFlag> current_flag() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<const void*, std::shared_ptr<CancelFlag>> flags_;  // guarded by mu_, by task
};

// Enrols a flag for the calling task for its lifetime, so that no path (early return, exception) leaves
// a stale entry behind for a later task at the same address.
class CancelScope {
 public:
  CancelScope(CancelRegistry& registry, std::shared_ptr<CancelFlag> flag) : registry_(registry) {
    registry_.enrol_current_task(std::move(flag));
  }
  ~CancelScope() { registry_.withdraw_current_task(); }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  CancelRegistry& registry_;
};

class CancellableBackend : public InferenceBackend {
 public:
  CancellableBackend(InferenceBackend& inner, CancelRegistry& registry, Clock& clock, double poll_s = 0.1);

  const std::string& name() const override { return inner_.name(); }
  BackendLoad load() const override { return inner_.load(); }
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  InferenceBackend& inner() { return inner_; }

 private:
  InferenceBackend& inner_;
  CancelRegistry& registry_;
  Clock& clock_;
  double poll_s_;
};

}  // namespace chatscale::api
