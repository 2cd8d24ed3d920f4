// The CUDA kernels and CudaModel against their CPU references, then the serving and profiling layer
// (CudaModelBackend vs CpuModelBackend, EngineLoop on the GPU, CudaProfileBackend), without GoogleTest:
// the same checks and tolerances as tests/prod/engine/cuda_kernels_test.cc and
// tests/prod/engine/cuda/cuda_backend_test.cc (prod/engine/cuda/cuda_checks.h, cuda_checks_backend.h).
// Prints the devices and each check's outcome with its numbers, and the seconds it took.
// Exit: 0 all pass, 1 a mismatch or error, 77 no usable GPU.
#include <chrono>
#include <cstdio>

#include "prod/engine/cuda/cuda_checks.h"
#include "prod/engine/cuda/cuda_checks_backend.h"
#include "prod/engine/cuda/cuda_devices.h"

int main() {
  using namespace chatscale::gpu;
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
  bool all_ok = true;
  auto checks = all_cuda_checks();
  for (auto& c : cuda_backend_checks()) checks.push_back(std::move(c));
  for (const auto& check : checks) {
    const auto start = std::chrono::steady_clock::now();
    CheckResult r = check.run();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s %-20s (%.2f s) %s\n", r.ok ? "ok  " : "FAIL", check.name.c_str(), secs, r.detail.c_str());
    std::fflush(stdout);
    all_ok = all_ok && r.ok;
  }
  std::printf("%s\n", all_ok ? "PASS" : "FAIL");
  return all_ok ? 0 : 1;
}
