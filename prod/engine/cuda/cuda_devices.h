// The CUDA devices visible to this process. Needs no CUDA headers to include.
// Thread-safe (CUDA runtime queries). Failure: kUnavailable when there is no driver or no device
// (e.g. cudaErrorInsufficientDriver on a machine without a GPU), kInternal for other CUDA errors.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace chatscale::gpu {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;  // "NVIDIA H100 80GB HBM3"
  std::size_t total_memory_bytes = 0;
  int sm_count = 0;                  // streaming multiprocessors
  int compute_capability_major = 0;  // 9 for Hopper
  int compute_capability_minor = 0;
};

// Every device, in CUDA's order; an empty list is reported as kUnavailable.
Result<std::vector<CudaDeviceInfo>> cuda_devices();

}  // namespace chatscale::gpu
