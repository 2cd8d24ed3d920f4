#include "prod/engine/cuda/cuda_devices.h"

#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"

namespace chatscale::gpu {
namespace {

Result<CudaDeviceInfo> describe(int index) {
  cudaDeviceProp prop{};
  CS_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, index));
  CudaDeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.total_memory_bytes = prop.totalGlobalMem;
  info.sm_count = prop.multiProcessorCount;
  info.compute_capability_major = prop.major;
  info.compute_capability_minor = prop.minor;
  return info;
}

}  // namespace

Result<std::vector<CudaDeviceInfo>> cuda_devices() {
  int count = 0;
  CS_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (count == 0) return unavailable("no CUDA device");
  std::vector<CudaDeviceInfo> devices;
  for (int i = 0; i < count; ++i) {
    CS_ASSIGN_OR_RETURN(CudaDeviceInfo info, describe(i));
    devices.push_back(std::move(info));
  }
  return devices;
}

}  // namespace chatscale::gpu
