#include "prod/runtime/signal_watcher.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <iostream>
#include <utility>

namespace chatscale {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::string name, std::function<void(bool drain)> on_signal)
    : name_(std::move(name)), on_signal_(std::move(on_signal)), thread_([this] { run(); }) {}

SignalWatcher::~SignalWatcher() {
  done_.store(true);
  thread_.join();
}

void SignalWatcher::run() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // sigtimedwait needs them blocked here too
  const timespec tick{0, 200'000'000};
  while (!done_.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig != SIGINT && sig != SIGTERM) continue;
    const bool first = seen_.fetch_add(1) == 0;
    std::cerr << name_ << ": " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << (first ? ": draining (signal again to stop at once)\n" : ": stopping now\n");
    on_signal_(first);
  }
}

}  // namespace chatscale
