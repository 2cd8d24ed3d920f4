// Baseline for scripts/bench-sim: SimGrid's raw event rate on this machine. N actors each sleep M
// times for a random interval; prints events per wall-second. The simulator's own events/s reads
// against this figure (PITFALLS.md: ~3.6M/s with 1,000 actors, ~0.7M/s with 20,000+).
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>
#include <xbt/log.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int actors = argc > 1 ? std::atoi(argv[1]) : 1000;
  int sleeps = argc > 2 ? std::atoi(argv[2]) : 2000;
  std::vector<std::string> store = {"raw", "--cfg=contexts/stack-size:256", "--cfg=contexts/guard-size:0",
                                    "--log=root.thres:critical"};
  std::vector<char*> args;
  for (auto& s : store) args.push_back(s.data());
  int n = static_cast<int>(args.size());
  simgrid::s4u::Engine engine(&n, args.data());
  auto* zone = simgrid::s4u::create_full_zone("zone");
  auto* host = zone->create_host("host", 1e9);
  zone->seal();
  for (int a = 0; a < actors; ++a) {
    simgrid::s4u::Actor::create("a", host, [a, sleeps] {
      std::mt19937_64 rng(static_cast<unsigned>(a));
      std::exponential_distribution<double> think(1.0);
      for (int i = 0; i < sleeps; ++i) simgrid::s4u::this_actor::sleep_for(think(rng));
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  engine.run();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double events = static_cast<double>(actors) * sleeps;
  std::printf("raw SimGrid: %d actors x %d sleeps = %.0f events in %.2f s: %.0f events/s\n", actors, sleeps, events,
              wall, events / wall);
  return 0;
}
