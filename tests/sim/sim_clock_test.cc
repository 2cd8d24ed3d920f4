// SimClock on a real SimGrid engine. The engine is a process singleton: every test shares one engine
// (built on first use with a one-host platform) and runs its actors with Engine::run(), which returns
// when they have all finished. Simulated time carries over between tests, so each test measures from
// its own start time t0; all offsets are dyadic fractions, so the sums are exact.
#include "sim/sim_clock.h"

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>

namespace chatscale {
namespace {

namespace s4u = simgrid::s4u;

s4u::Host* test_host() {
  static s4u::Host* host = [] {
    static s4u::Engine engine("sim_clock_test");
#if defined(__SANITIZE_ADDRESS__)
    // ASan cannot follow SimGrid's own stack switching; system threads keep it exact.
    s4u::Engine::set_config("contexts/factory:thread");
#endif
    auto* zone = s4u::create_full_zone("zone0");
    s4u::Host* h = zone->create_host("host0", 1e9);
    zone->seal();
    return h;
  }();
  return host;
}

// Runs the given actors to completion; returns the simulated time at which the run started.
double run_actors(const std::vector<std::function<void()>>& actors) {
  s4u::Host* host = test_host();
  double t0 = s4u::Engine::get_clock();
  int i = 0;
  for (const auto& body : actors) s4u::Actor::create("actor" + std::to_string(i++), host, body);
  s4u::Engine::get_instance()->run();
  return t0;
}

TEST(SimClockTest, SleepUntilWakesAtTheExactSimulatedTime) {
  SimClock clock;
  std::vector<double> seen;
  double t0 = run_actors({[&] {
    double start = clock.now();
    clock.sleep_until(start + 1.5);
    seen.push_back(clock.now());
    clock.sleep_for(0.25);
    seen.push_back(clock.now());
    clock.sleep_until(start);  // in the past: returns at once
    seen.push_back(clock.now());
  }});
  EXPECT_EQ(seen, (std::vector<double>{t0 + 1.5, t0 + 1.75, t0 + 1.75}));
}

TEST(SimClockTest, SleepingActorsInterleaveOnTheTimeLine) {
  SimClock clock;
  std::vector<std::string> order;
  double t0 = run_actors({
      [&] {
        clock.sleep_for(2.0);
        order.push_back("a@" + std::to_string(clock.now()));
      },
      [&] {
        clock.sleep_for(0.5);
        order.push_back("b@" + std::to_string(clock.now()));
      },
  });
  EXPECT_EQ(order,
            (std::vector<std::string>{"b@" + std::to_string(t0 + 0.5), "a@" + std::to_string(t0 + 2.0)}));
}

TEST(SimClockTest, NotifyFromAnotherActorWakesTheWaiterAtNotifyTime) {
  SimClock clock;
  std::unique_ptr<Signal> signal;
  bool woke = false;
  double woke_at = -1;
  double t0 = run_actors({
      [&] {
        signal = clock.make_signal();
        woke = signal->wait_until(clock.now() + 10.0);
        woke_at = clock.now();
      },
      [&] {
        clock.sleep_for(2.5);
        EXPECT_FALSE(signal->notified());
        signal->notify();
      },
  });
  EXPECT_TRUE(woke);
  EXPECT_EQ(woke_at, t0 + 2.5);
  EXPECT_TRUE(signal->notified());
}

TEST(SimClockTest, WaitTimesOutAtTheDeadline) {
  SimClock clock;
  bool woke = true;
  bool notified = true;
  double woke_at = -1;
  double t0 = run_actors({[&] {
    auto signal = clock.make_signal();
    woke = signal->wait_until(clock.now() + 3.0);
    woke_at = clock.now();
    notified = signal->notified();
  }});
  EXPECT_FALSE(woke);
  EXPECT_FALSE(notified);
  EXPECT_EQ(woke_at, t0 + 3.0);
}

TEST(SimClockTest, NotifyIsLatchedForLaterWaiters) {
  SimClock clock;
  std::unique_ptr<Signal> signal;
  std::vector<double> returns;
  bool all_true = true;
  double t0 = run_actors({
      [&] {
        signal = clock.make_signal();
        clock.sleep_for(1.0);
        signal->notify();
      },
      [&] {
        clock.sleep_for(2.0);
        all_true = all_true && signal->wait_until(clock.now() + 5.0);
        returns.push_back(clock.now());
        all_true = all_true && signal->wait_until(0.0);  // deadline long past, still notified
        returns.push_back(clock.now());
      },
  });
  EXPECT_TRUE(all_true);
  EXPECT_EQ(returns, (std::vector<double>{t0 + 2.0, t0 + 2.0}));
}

TEST(SimClockTest, OneNotifyWakesEveryWaiterIncludingAnUnboundedOne) {
  SimClock clock;
  std::unique_ptr<Signal> signal;
  std::vector<double> woke_at(3, -1);
  std::vector<bool> woke(3, false);
  auto waiter = [&](int i, double timeout) {
    return [&, i, timeout] {
      clock.sleep_for(0.25 * (i + 1));  // the notifier makes the signal at t0
      woke[i] = signal->wait_until(clock.now() + timeout);
      woke_at[i] = clock.now();
    };
  };
  double t0 = run_actors({
      [&] {
        signal = clock.make_signal();
        clock.sleep_for(4.0);
        signal->notify();
      },
      waiter(1, 100.0),
      waiter(2, 1.0),
      waiter(0, std::numeric_limits<double>::infinity()),
  });
  EXPECT_TRUE(woke[0]);
  EXPECT_TRUE(woke[1]);
  EXPECT_FALSE(woke[2]);  // its deadline t0 + 1.75 came first
  EXPECT_EQ(woke_at, (std::vector<double>{t0 + 4.0, t0 + 4.0, t0 + 1.75}));
}

}  // namespace
}  // namespace chatscale
