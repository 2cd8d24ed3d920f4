// Times 1M conversation starts of the reference scenario (f = 1e-2 from 18:00 UTC, about 5.8 simulated
// hours) and one profile build. Not a test: build with `ninja arrival_bench` and run it.
#include <chrono>
#include <cstdio>
#include <string>

#include "sim/traffic/arrivals.h"

int main() {
  using chatscale::sim::ArrivalGenerator;
  using chatscale::sim::DiurnalProfile;
  using Clock = std::chrono::steady_clock;
  auto scenario = chatscale::load_scenario_file(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/chatgpt-2026.yaml");
  if (!scenario.is_ok()) {
    std::fprintf(stderr, "%s\n", scenario.status().to_string().c_str());
    return 1;
  }
  for (auto clock : {chatscale::DiurnalClock::kUtc, chatscale::DiurnalClock::kLocal}) {
    scenario->traffic.clock = clock;
    const auto t0 = Clock::now();
    auto profile = DiurnalProfile::build(*scenario);
    const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!profile.is_ok()) return 1;
    std::printf("profile build (%s clock): %.1f ms\n", clock == chatscale::DiurnalClock::kUtc ? "utc" : "local",
                build_ms);
  }
  scenario->traffic.clock = chatscale::DiurnalClock::kUtc;
  auto profile = DiurnalProfile::build(*scenario);
  auto gen = ArrivalGenerator::create(*profile, *scenario, 1e-2, 1, 18 * 3600.0);
  if (!gen.is_ok()) return 1;
  const auto t0 = Clock::now();
  double checksum = 0;
  for (int i = 0; i < 1'000'000; ++i) checksum += gen->next().turns;
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("1M conversation starts: %.3f s (%.0f ns each; mean turns %.3f)\n", s, s * 1e3, checksum / 1e6);
  return 0;
}
