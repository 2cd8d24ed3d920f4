// SignalWatcher: SIGINT/SIGTERM handling of the long-running commands (`chatscale serve`, `chatscale
// engine`). block_stop_signals() blocks both in the calling thread, so every thread started after it
// (Asio's, the engine loop's, pools) inherits the mask; a SignalWatcher then waits for them on a thread
// of its own (sigtimedwait, 200 ms ticks so that destruction is prompt) and calls on_signal(true) for
// the first (drain: finish what runs, accept nothing new) and on_signal(false) for every later one
// (stop at once), after a line on stderr: "<name>: SIGINT: draining (signal again to stop at once)".
//
// Ownership: the watcher owns its thread; destruction stops and joins it. The callback must stay
// valid until then. Thread-safety: on_signal runs on the watcher's thread. Failure behaviour: none;
// signals other than SIGINT/SIGTERM are not consumed.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace chatscale {

// Blocks SIGINT and SIGTERM in the calling thread (call before starting other threads).
void block_stop_signals();

class SignalWatcher {
 public:
  SignalWatcher(std::string name, std::function<void(bool drain)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  int signals_seen() const { return seen_.load(); }

 private:
  void run();

  std::string name_;
  std::function<void(bool)> on_signal_;
  std::atomic<bool> done_{false};
  std::atomic<int> seen_{0};
  std::thread thread_;
};

}  // namespace chatscale
