// RealClock against the wall clock. Assertions are about order and loose bounds only: a wait returns
// no earlier than its deadline, and well before a far deadline when notified.
#include "prod/runtime/real_clock.h"

#include <atomic>
#include <chrono>
#include <future>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "prod/runtime/task.h"

namespace chatscale {
namespace {

using namespace std::chrono_literals;

TEST(RealClockTest, NowIsUnixTimeInSeconds) {
  RealClock clock;
  double expected =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(clock.now(), expected, 5.0);
  EXPECT_GT(clock.now(), 1.6e9);  // after 2020: seconds, not milliseconds or a steady epoch
}

// If a sleep blocked the thread, the task started first would also finish first.
TEST(RealClockTest, SleepingTasksInterleaveOnOneThread) {
  RealClock clock;
  boost::asio::io_context ioc;
  std::vector<std::string> events;
  std::vector<std::thread::id> threads;
  bool reached = true;
  auto task = [&](std::string name, double seconds) {
    return [&, name, seconds](TaskYield) {
      events.push_back(name + "-start");
      threads.push_back(std::this_thread::get_id());
      double until = clock.now() + seconds;
      clock.sleep_until(until);
      reached = reached && clock.now() >= until;
      events.push_back(name + "-end");
    };
  };
  spawn_task(ioc, task("slow", 0.2));
  spawn_task(ioc, task("fast", 0.02));
  ioc.run();
  EXPECT_EQ(events, (std::vector<std::string>{"slow-start", "fast-start", "fast-end", "slow-end"}));
  EXPECT_TRUE(reached);
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_EQ(threads[0], threads[1]);
}

TEST(RealClockTest, SleepUntilAPastTimeReturnsAtOnce) {
  RealClock clock;
  boost::asio::io_context ioc;
  std::vector<std::string> events;
  spawn_task(ioc, [&](TaskYield) {
    clock.sleep_until(clock.now() - 10);
    events.push_back("task");
  });
  ioc.run();
  clock.sleep_until(0);  // plain thread
  events.push_back("thread");
  EXPECT_EQ(events, (std::vector<std::string>{"task", "thread"}));
}

// The waiter blocks neither the io_context thread (a ticker task keeps running beside it) nor misses
// a notify from another thread.
TEST(RealClockTest, NotifyFromAnotherThreadWakesAWaitingTask) {
  RealClock clock;
  boost::asio::io_context ioc;
  auto signal = clock.make_signal();
  std::atomic<int> ticks{0};
  bool woke = false;
  double deadline = 0;
  double woke_at = 0;
  spawn_task(ioc, [&](TaskYield) {
    deadline = clock.now() + 60;
    woke = signal->wait_until(deadline);
    woke_at = clock.now();
  });
  spawn_task(ioc, [&](TaskYield) {
    while (!signal->notified()) {
      clock.sleep_for(0.002);
      ++ticks;
    }
  });
  std::thread notifier([&] {
    while (ticks.load() < 3) std::this_thread::sleep_for(1ms);  // the waiter is parked by now
    signal->notify();
  });
  ioc.run();
  notifier.join();
  EXPECT_TRUE(woke);
  EXPECT_TRUE(signal->notified());
  EXPECT_GE(ticks.load(), 3);
  EXPECT_LT(woke_at, deadline - 30);  // woken by the notify, not the deadline
}

TEST(RealClockTest, TaskWaitTimesOutAtTheDeadline) {
  RealClock clock;
  boost::asio::io_context ioc;
  auto signal = clock.make_signal();
  bool woke = true;
  double deadline = 0;
  double returned_at = 0;
  spawn_task(ioc, [&](TaskYield) {
    deadline = clock.now() + 0.05;
    woke = signal->wait_until(deadline);
    returned_at = clock.now();
  });
  ioc.run();
  EXPECT_FALSE(woke);
  EXPECT_FALSE(signal->notified());
  EXPECT_GE(returned_at, deadline);
  EXPECT_LT(returned_at, deadline + 30);
}

TEST(RealClockTest, NotifyIsLatched) {
  RealClock clock;
  boost::asio::io_context ioc;
  auto signal = clock.make_signal();
  signal->notify();
  signal->notify();  // idempotent
  bool in_task = false;
  spawn_task(ioc, [&](TaskYield) { in_task = signal->wait_until(clock.now() + 60); });
  ioc.run();
  EXPECT_TRUE(in_task);
  EXPECT_TRUE(signal->wait_until(0));  // plain thread, deadline long past
}

TEST(RealClockTest, PlainThreadFallbackSleepsAndWaits) {
  RealClock clock;
  double until = clock.now() + 0.03;
  clock.sleep_until(until);
  EXPECT_GE(clock.now(), until);

  auto quiet = clock.make_signal();
  double deadline = clock.now() + 0.03;
  EXPECT_FALSE(quiet->wait_until(deadline));
  EXPECT_GE(clock.now(), deadline);

  auto signal = clock.make_signal();
  std::promise<void> waiting;
  std::thread notifier([&] {
    waiting.get_future().wait();
    std::this_thread::sleep_for(20ms);  // let the main thread reach its wait
    signal->notify();
  });
  waiting.set_value();
  double far = clock.now() + 60;
  EXPECT_TRUE(signal->wait_until(far));
  EXPECT_LT(clock.now(), far - 30);
  notifier.join();
}

// One notify wakes task waiters on two io_context threads and a plain-thread waiter.
TEST(RealClockTest, OneNotifyWakesTasksAndThreads) {
  RealClock clock;
  boost::asio::io_context ioc;
  auto signal = clock.make_signal();
  std::atomic<int> woken{0};
  std::atomic<int> waiting{0};
  for (int i = 0; i < 4; ++i) {
    spawn_task(ioc, [&](TaskYield) {
      ++waiting;
      if (signal->wait_until(clock.now() + 60)) ++woken;
    });
  }
  std::thread io_thread([&] { ioc.run(); });
  std::thread plain([&] {
    ++waiting;
    if (signal->wait_until(clock.now() + 60)) ++woken;
  });
  while (waiting.load() < 5) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);  // past the last waiter's registration
  signal->notify();
  ioc.run();
  io_thread.join();
  plain.join();
  EXPECT_EQ(woken.load(), 5);
}

TEST(RealClockTest, InfiniteDeadlineWaitsForTheNotify) {
  RealClock clock;
  boost::asio::io_context ioc;
  auto signal = clock.make_signal();
  bool woke = false;
  spawn_task(ioc, [&](TaskYield) { woke = signal->wait_until(std::numeric_limits<double>::infinity()); });
  spawn_task(ioc, [&](TaskYield) {
    clock.sleep_for(0.01);
    signal->notify();  // from a task on the same thread
  });
  ioc.run();
  EXPECT_TRUE(woke);
}

}  // namespace
}  // namespace chatscale
