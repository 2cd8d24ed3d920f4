#include "prod/runtime/blocking_pool.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace chatscale {
namespace {

using namespace std::chrono_literals;

TEST(BlockingPoolTest, RunsInlineOutsideATask) {
  BlockingPool pool(1);
  auto caller = std::this_thread::get_id();
  EXPECT_EQ(pool.run([&] { return std::this_thread::get_id(); }), caller);
}

// One I/O thread, two tasks: while one waits on a blocking call in the pool, the other keeps running
// on the I/O thread. Proves the call left the I/O thread and the result and exceptions come back.
TEST(BlockingPoolTest, BlockingCallDoesNotBlockTheIoThread) {
  boost::asio::io_context ioc;
  BlockingPool pool(2);
  std::atomic<bool> release{false};
  std::atomic<bool> other_ran{false};
  std::string result;
  std::string error;
  std::thread::id io_thread, worker_thread;
  spawn_task(ioc, [&](TaskYield) {
    io_thread = std::this_thread::get_id();
    result = pool.run([&] {
      worker_thread = std::this_thread::get_id();
      while (!release) std::this_thread::sleep_for(1ms);  // a blocking call
      return std::string("done");
    });
    try {
      pool.run([] { throw std::runtime_error("query failed"); });
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    pool.run([] {});  // void
  });
  spawn_task(ioc, [&](TaskYield) {
    other_ran = true;  // runs while the first task waits
    release = true;
  });
  ioc.run();
  EXPECT_TRUE(other_ran);
  EXPECT_EQ(result, "done");
  EXPECT_EQ(error, "query failed");
  EXPECT_NE(worker_thread, io_thread);
}

}  // namespace
}  // namespace chatscale
