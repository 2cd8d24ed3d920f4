// The CUDA kernels and CudaModel against their CPU references, without GoogleTest (the same checks
// and tolerances as tests/prod/engine/cuda_kernels_test.cc: prod/engine/cuda/cuda_checks.h). Prints
// the devices and each check's outcome. Exit: 0 all pass, 1 a mismatch or CUDA error, 77 no usable GPU.
#include <cstdio>

#include "prod/engine/cuda/cuda_checks.h"
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
  for (const auto& check : all_cuda_checks()) {
    CheckResult r = check.run();
    std::printf("%s %-20s %s\n", r.ok ? "ok  " : "FAIL", check.name.c_str(), r.detail.c_str());
    std::fflush(stdout);
    all_ok = all_ok && r.ok;
  }
  std::printf("%s\n", all_ok ? "PASS" : "FAIL");
  return all_ok ? 0 : 1;
}
