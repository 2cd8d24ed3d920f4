#include "prod/engine/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace chatscale::engine {
namespace {

constexpr auto kSpin = std::chrono::microseconds(50);

// Spins until done() or kSpin has passed; true when done() became true.
template <typename Done>
bool spin_until(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) : size_(std::max(1, threads)) {
  threads_.reserve(static_cast<std::size_t>(size_ - 1));
  for (int w = 1; w < size_; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run_chunk(int worker) {
  const std::int64_t begin = n_ * worker / size_;
  const std::int64_t end = n_ * (worker + 1) / size_;
  if (begin < end) (*job_)(begin, end, worker);
}

void ThreadPool::parallel_for(std::int64_t n, const RangeFn& fn) {
  if (n <= 0) return;
  if (size_ == 1) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard lock(mu_);
    job_ = &fn;
    n_ = n;
    pending_.store(size_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_chunk(0);
  if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::worker_loop(int worker) {
  std::uint64_t seen = 0;
  for (;;) {
    const auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(fresh)) {
      std::unique_lock lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || fresh(); });
      if (stop_) return;
    }
    seen = generation_.load(std::memory_order_acquire);
    run_chunk(worker);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mu_);  // pairs with the caller's check under mu_: no lost wake-up
      done_cv_.notify_one();
    }
  }
}

}  // namespace chatscale::engine
