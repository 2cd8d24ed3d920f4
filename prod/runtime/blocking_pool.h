// A pool of threads for blocking calls (libpqxx queries, argon2id hashing, hiredis round trips), so
// that they never block an I/O thread. run(fn) runs fn on a pool thread and suspends the calling task
// (prod/runtime/task.h) until fn returns; the I/O thread keeps serving other tasks meanwhile. Called
// outside any task (a plain thread, main, a test), it simply runs fn on the calling thread.
//
// Exceptions thrown by fn are caught on the pool thread and rethrown in the caller. A caller's wait
// is not interruptible: fn runs to its end (bound it with its own timeouts, e.g. statement_timeout).
//
// Ownership: owns its threads; the destructor waits for the functions already queued. Thread-safety:
// run() may be called from any number of tasks and threads at once.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "prod/runtime/real_clock.h"
#include "prod/runtime/task.h"

namespace chatscale {

class BlockingPool {
 public:
  explicit BlockingPool(int threads) : threads_(threads < 1 ? 1 : threads), pool_(threads_) {}
  ~BlockingPool() { pool_.join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  template <typename F>
  std::invoke_result_t<F&> run(F fn) {
    using R = std::invoke_result_t<F&>;
    if (current_task() == nullptr) return fn();
    auto done = clock_.make_signal();
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
      boost::asio::post(pool_, [&] {
        try {
          fn();
        } catch (...) {
          error = std::current_exception();
        }
        done->notify();
      });
      while (!done->wait_until(1e300)) {
      }
      if (error) std::rethrow_exception(error);
    } else {
      std::optional<R> result;
      boost::asio::post(pool_, [&] {
        try {
          result.emplace(fn());
        } catch (...) {
          error = std::current_exception();
        }
        done->notify();
      });
      while (!done->wait_until(1e300)) {
      }
      if (error) std::rethrow_exception(error);
      return std::move(*result);
    }
  }

  int threads() const { return threads_; }

 private:
  int threads_;
  boost::asio::thread_pool pool_;
  RealClock clock_;
};

}  // namespace chatscale
