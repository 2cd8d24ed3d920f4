// Throughput of the in-process rate-limit store and of a full acquire + release through the limiter.
// Not a test: built on demand (`ninja rate_limiter_bench`) when Google Benchmark is installed.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "ratelimit/memory_rate_limit_store.h"
#include "ratelimit/rate_limiter.h"

namespace chatscale {
namespace {

// A clock frozen at one instant, free of the manual clock's mutex so threads do not contend on it.
class FrozenClock : public Clock {
 public:
  double now() const override { return 1'700'000'000.0; }
  void sleep_until(double) override {}
  std::unique_ptr<Signal> make_signal() override { return nullptr; }
};

std::vector<std::string> user_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("user-" + std::to_string(i * 7919));
  return ids;
}

void BM_StoreUpdate(benchmark::State& state) {
  static FrozenClock clock;
  static MemoryRateLimitStore store(clock);
  static const std::vector<std::string> keys = user_ids(100'000);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    Status s = store.update(keys[i++ % keys.size()], 120, [](std::string& blob) {
      blob = "1:1700000001000000000:1700000000500000000:";
    });
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreUpdate)->Threads(1)->Threads(2)->UseRealTime();

void BM_AcquireRelease(benchmark::State& state) {
  static FrozenClock clock;
  static MemoryRateLimitStore store(clock);
  Tier tier;
  tier.name = "pro";
  tier.requests_per_minute = 1e9;
  tier.tokens_per_minute = 1e12;
  tier.max_concurrent = 8;
  static RateLimiter limiter(store, {tier});
  static const std::vector<std::string> users = user_ids(100'000);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    const std::string& user = users[i++ % users.size()];
    Result<RateDecision> d = limiter.acquire(user, "pro", 1500, clock.now());
    benchmark::DoNotOptimize(d);
    Status r = limiter.release(user, "pro", clock.now());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcquireRelease)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace chatscale

BENCHMARK_MAIN();
