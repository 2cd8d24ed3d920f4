#include "prod/engine/profile/cpu_device.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace chatscale::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs fn(thread_index) on `threads` threads at once and returns the wall time of the slowest.
template <typename Fn>
double timed_parallel(int threads, Fn fn) {
  std::vector<std::thread> pool;
  const Clock::time_point t0 = Clock::now();
  for (int t = 1; t < threads; ++t) pool.emplace_back([&fn, t] { fn(t); });
  fn(0);
  for (std::thread& th : pool) th.join();
  return seconds_since(t0);
}

bool has_avx2_fma() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float fma_chains_avx2(std::int64_t iterations, float seed) {
  __m256 acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_ps(seed + static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 8; ++i) sum = _mm256_add_ps(sum, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, sum);
  return out[0];
}
#endif

float fma_chains_plain(std::int64_t iterations, float seed) {
  float acc[8][8];
  for (int i = 0; i < 8; ++i) {
    for (int l = 0; l < 8; ++l) acc[i][l] = seed + static_cast<float>(i + l);
  }
  for (std::int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 8; ++i) {
      for (int l = 0; l < 8; ++l) acc[i][l] = acc[i][l] * 0.999999f + 1e-7f;
    }
  }
  float sum = 0;
  for (int i = 0; i < 8; ++i) {
    for (int l = 0; l < 8; ++l) sum += acc[i][l];
  }
  return sum;
}

}  // namespace

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(colon + 1);
    const std::size_t first = name.find_first_not_of(" \t");
    return first == std::string::npos ? "unknown CPU" : name.substr(first);
  }
  return "unknown CPU";
}

double physical_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "MemTotal:") {
      in >> kib;
      return kib * 1024.0;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

double measure_copy_bytes_per_s(int threads, std::int64_t buffer_bytes, int repeats) {
  threads = std::max(threads, 1);
  const std::size_t share = static_cast<std::size_t>(std::max<std::int64_t>(buffer_bytes / threads, 4096));
  std::vector<std::vector<char>> src(threads), dst(threads);
  // Each thread touches its own buffers first (first-touch placement), then copies them.
  timed_parallel(threads, [&](int t) {
    src[t].assign(share, static_cast<char>(t + 1));
    dst[t].assign(share, 0);
  });
  double best = 0;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const double s = timed_parallel(threads, [&](int t) { std::memcpy(dst[t].data(), src[t].data(), share); });
    if (s > 0) best = std::max(best, 2.0 * static_cast<double>(share) * threads / s);
  }
  return best;
}

double measure_peak_f32_flops(int threads, std::int64_t iterations, int repeats) {
  threads = std::max(threads, 1);
  iterations = std::max<std::int64_t>(iterations, 1);
  const bool avx2 = has_avx2_fma();
  std::vector<float> sink(threads);
  double best = 0;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const double s = timed_parallel(threads, [&](int t) {
#if defined(__x86_64__)
      sink[t] = avx2 ? fma_chains_avx2(iterations, static_cast<float>(t)) : fma_chains_plain(iterations, static_cast<float>(t));
#else
      sink[t] = fma_chains_plain(iterations, static_cast<float>(t));
#endif
    });
    // 8 chains x 8 lanes x 2 FLOPs per round.
    if (s > 0) best = std::max(best, 128.0 * static_cast<double>(iterations) * threads / s);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

std::string peak_flops_method() {
  return has_avx2_fma() ? "AVX2+FMA: 8 independent 8-lane FMA chains per thread on registers, 2 FLOPs per lane, best of runs"
                        : "plain C++: 8 independent 8-lane multiply-add chains per thread, 2 FLOPs per lane, best of runs";
}

}  // namespace chatscale::engine
