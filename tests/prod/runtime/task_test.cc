#include "prod/runtime/task.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace chatscale {
namespace {

using namespace std::chrono_literals;

TEST(TaskTest, CurrentTaskIsSetOnlyInsideATask) {
  boost::asio::io_context ioc;
  EXPECT_EQ(current_task(), nullptr);
  const TaskContext* seen = nullptr;
  bool has_yield = false;
  bool has_executor = false;
  bool plain_handler_ran = false;
  TaskContext dummy;
  const TaskContext* in_plain_handler = &dummy;  // anything but null
  spawn_task(ioc, [&](TaskYield) {
    seen = current_task();
    has_yield = seen != nullptr && seen->yield != nullptr;
    has_executor = seen != nullptr && seen->executor != nullptr;
  });
  boost::asio::post(ioc, [&] {
    plain_handler_ran = true;
    in_plain_handler = current_task();
  });
  ioc.run();
  EXPECT_NE(seen, nullptr);
  EXPECT_TRUE(has_yield);
  EXPECT_TRUE(has_executor);
  EXPECT_TRUE(plain_handler_ran);
  EXPECT_EQ(in_plain_handler, nullptr);
  EXPECT_EQ(current_task(), nullptr);
}

// A task suspended by any Asio operation (here a raw timer, not the Clock) is the current task again
// when it resumes, even though other tasks ran on the thread in between.
TEST(TaskTest, CurrentTaskFollowsTheTaskAcrossForeignSuspensions) {
  boost::asio::io_context ioc;
  std::vector<std::string> events;
  int mismatches = 0;
  auto body = [&](std::string name, std::chrono::milliseconds step) {
    return [&, name, step](TaskYield yield) {
      const TaskContext* me = current_task();
      if (me == nullptr) {
        ++mismatches;
        return;
      }
      boost::asio::steady_timer timer(*me->executor);
      for (int i = 0; i < 3; ++i) {
        timer.expires_after(step);
        timer.async_wait(yield);
        if (current_task() != me) ++mismatches;
        events.push_back(name + std::to_string(i));
      }
    };
  };
  spawn_task(ioc, body("a", 7ms));
  spawn_task(ioc, body("b", 2ms));
  ioc.run();
  EXPECT_EQ(mismatches, 0);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events.front(), "b0");  // the tasks were suspended at the same time: they interleaved
  EXPECT_EQ(events.back(), "a2");
  EXPECT_EQ(current_task(), nullptr);
}

TEST(TaskTest, ManyTasksOnSeveralThreadsEachSeeThemselves) {
  boost::asio::io_context ioc;
  std::atomic<int> resumptions{0};
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 40; ++t) {
    spawn_task(ioc, [&](TaskYield yield) {
      const TaskContext* me = current_task();
      if (me == nullptr) {
        ++mismatches;
        return;
      }
      boost::asio::steady_timer timer(*me->executor);
      for (int i = 0; i < 5; ++i) {
        timer.expires_after(1ms);
        timer.async_wait(yield);
        if (current_task() != me) ++mismatches;
        ++resumptions;
      }
    });
  }
  std::thread other([&] { ioc.run(); });
  ioc.run();
  other.join();
  EXPECT_EQ(resumptions.load(), 200);
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace chatscale
