#include "prod/runtime/real_clock.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "prod/runtime/task.h"

namespace chatscale {
namespace {

// Long waits are taken in slices of at most an hour: no duration overflow for far or infinite
// deadlines, and each slice re-reads the wall clock.
constexpr double kMaxSliceSeconds = 3600.0;

std::chrono::steady_clock::duration slice(double seconds) {
  double s = std::clamp(seconds, 0.0, kMaxSliceSeconds);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Suspends the task until the timer expires or is cancelled.
void task_wait(const TaskContext& task, boost::asio::steady_timer& timer, double seconds) {
  boost::system::error_code ec;
  timer.expires_after(slice(seconds));
  timer.async_wait((*task.yield)[ec]);
}

class RealSignal : public Signal {
 public:
  void notify() override {
    std::vector<std::shared_ptr<boost::asio::steady_timer>> timers;
    {
      std::lock_guard lock(mu_);
      if (notified_) return;
      notified_ = true;
      timers.swap(timers_);
      // Under the lock: a woken waiter may destroy the Signal as soon as it can take mu_.
      cv_.notify_all();
    }
    // Timers are not thread-safe: cancel each on its own executor (the waiting task's strand). The
    // task initiated its wait before releasing the strand, so the cancel cannot be lost.
    for (auto& timer : timers) {
      boost::asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
  }

  bool notified() const override {
    std::lock_guard lock(mu_);
    return notified_;
  }

  bool wait_until(double deadline) override {
    const TaskContext* task = current_task();
    return task != nullptr ? wait_in_task(*task, deadline) : wait_in_thread(deadline);
  }

 private:
  bool wait_in_task(const TaskContext& task, double deadline) {
    auto timer = std::make_shared<boost::asio::steady_timer>(*task.executor);
    {
      std::lock_guard lock(mu_);
      if (notified_) return true;
      timers_.push_back(timer);
    }
    for (double left = deadline - unix_now(); left > 0; left = deadline - unix_now()) {
      task_wait(task, *timer, left);
      if (notified()) break;
    }
    std::lock_guard lock(mu_);
    std::erase(timers_, timer);
    return notified_;
  }

  bool wait_in_thread(double deadline) {
    std::unique_lock lock(mu_);
    for (double left = deadline - unix_now(); !notified_ && left > 0; left = deadline - unix_now()) {
      cv_.wait_for(lock, slice(left));
    }
    return notified_;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;                                           // guarded by mu_
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;  // task waiters; guarded by mu_
};

}  // namespace

double RealClock::now() const { return unix_now(); }

void RealClock::sleep_until(double t) {
  const TaskContext* task = current_task();
  if (task == nullptr) {
    for (double left = t - unix_now(); left > 0; left = t - unix_now())
      std::this_thread::sleep_for(slice(left));
    return;
  }
  boost::asio::steady_timer timer(*task->executor);
  for (double left = t - unix_now(); left > 0; left = t - unix_now()) task_wait(*task, timer, left);
}

std::unique_ptr<Signal> RealClock::make_signal() { return std::make_unique<RealSignal>(); }

}  // namespace chatscale
