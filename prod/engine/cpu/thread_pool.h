// A persistent pool of worker threads for the CPU backend's data-parallel loops: parallel_for splits
// an index range into one contiguous chunk per thread (the calling thread runs chunk 0) and blocks
// until every chunk is done. Chunk boundaries depend only on (n, size()), so a loop whose iterations
// are independent gives bit-identical results for any thread count.
//
// Waiting: a worker spins for up to ~50 us for the next chunk before it blocks on a condition variable,
// and so does the caller for the last chunk to finish: the dispatches of one forward pass follow each
// other closely, and a futex wake-up costs tens of microseconds (a decode step makes ~40 dispatches).
//
// Ownership: owns its threads; the destructor stops and joins them.
// Thread-safety: parallel_for must not be called concurrently or re-entrantly (one owner, the backend).
// Failure behaviour: none; the callable must not throw.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chatscale::engine {

class ThreadPool {
 public:
  // fn(begin, end, worker): worker in [0, size()) identifies per-thread scratch.
  using RangeFn = std::function<void(std::int64_t begin, std::int64_t end, int worker)>;

  explicit ThreadPool(int threads);  // clamped to at least 1; threads - 1 workers are started
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  void parallel_for(std::int64_t n, const RangeFn& fn);

 private:
  void worker_loop(int worker);
  void run_chunk(int worker);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const RangeFn* job_ = nullptr;           // written before generation_ is bumped (release)
  std::int64_t n_ = 0;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;                      // guarded by mu_
};

}  // namespace chatscale::engine
