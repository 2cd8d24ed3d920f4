// The CUDA kernels against their CPU references, without GoogleTest (same data and tolerances as
// tests/prod/engine/cuda_kernels_test.cc). Prints the devices and each check's worst error ratio
// (<= 1 passes). Exit: 0 all pass, 1 a mismatch or CUDA error, 77 no usable GPU.
#include <cfloat>
#include <cstdio>
#include <random>
#include <vector>

#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/matmul.h"
#include "prod/engine/cuda/reference.h"
#include "prod/engine/cuda/rmsnorm.h"

namespace {

using namespace chatscale;
using namespace chatscale::gpu;

std::vector<float> random_vector(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Prints one check's outcome; true when it passed.
bool report(const char* name, const Result<std::vector<float>>& got, const std::vector<float>& want,
            double abs_tol, double rel_tol, const std::vector<float>& scale = {}) {
  if (!got.is_ok()) {
    std::printf("FAIL %s: %s\n", name, got.status().message().c_str());
    return false;
  }
  double ratio = worst_error_ratio(*got, want, abs_tol, rel_tol, scale);
  std::printf("%s %s: worst error ratio %.3g\n", ratio <= 1.0 ? "ok  " : "FAIL", name, ratio);
  return ratio <= 1.0;
}

bool check_rmsnorm(int rows, int cols, unsigned seed) {
  auto x = random_vector(size_t(rows) * cols, seed, -4.f, 4.f);
  auto w = random_vector(cols, seed + 1, 0.5f, 1.5f);
  char name[64];
  std::snprintf(name, sizeof name, "rmsnorm %dx%d", rows, cols);
  return report(name, rmsnorm_f32(x, w, rows, cols, 1e-6f), rmsnorm_reference(x, w, rows, cols, 1e-6f), 1e-6,
                1e-5);
}

bool check_matmul(int m, int k, int n) {
  auto a = random_vector(size_t(m) * k, 5, -1.f, 1.f);
  auto b = random_vector(size_t(k) * n, 6, -1.f, 1.f);
  return report("matmul (cuBLAS)", matmul_f32(a, b, m, k, n), matmul_reference(a, b, m, k, n), 1e-6,
                2.0 * k * FLT_EPSILON, matmul_abs_reference(a, b, m, k, n));
}

}  // namespace

int main() {
  auto devices = cuda_devices();
  if (!devices.is_ok()) {
    std::printf("SKIP: no usable GPU: %s\n", devices.status().message().c_str());
    return 77;
  }
  for (const auto& d : *devices) {
    std::printf("device %d: %s, %.1f GiB, %d SMs, sm_%d%d\n", d.index, d.name.c_str(),
                d.total_memory_bytes / double(1u << 30), d.sm_count, d.compute_capability_major,
                d.compute_capability_minor);
  }
  bool ok = check_rmsnorm(64, 4096, 1) && check_rmsnorm(3, 1, 7) && check_rmsnorm(3, 257, 9) &&
            check_rmsnorm(5, 1000, 11) && check_matmul(96, 256, 80);
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
