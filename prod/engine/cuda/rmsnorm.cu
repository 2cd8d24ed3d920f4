#include "prod/engine/cuda/rmsnorm.h"

#include <cuda_runtime.h>

#include "prod/engine/cuda/block_reduce.cuh"
#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/device_buffer.h"

namespace chatscale::gpu {
namespace {

constexpr int kThreads = 256;

// One block per row: the block sums the squares of its row (block_reduce.cuh), then every thread
// scales its strided slice.
__global__ void rmsnorm_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                               float* __restrict__ y, int cols, float eps) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  float* out = y + static_cast<size_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c] * row[c];
  const float inv_rms = rsqrtf(block_sum<kThreads>(sum) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) out[c] = row[c] * inv_rms * weight[c];
}

}  // namespace

Status rmsnorm_f32_launch(const float* x, const float* weight, float* y, int rows, int cols, float eps,
                          CUstream_st* stream) {
  if (rows < 0 || cols <= 0) return invalid_argument("rmsnorm: rows must be >= 0 and cols > 0");
  if (!(eps >= 0.f)) return invalid_argument("rmsnorm: eps must be >= 0");
  if (rows == 0) return Status::ok();
  rmsnorm_kernel<<<rows, kThreads, 0, stream>>>(x, weight, y, cols, eps);
  CS_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Result<std::vector<float>> rmsnorm_f32(std::span<const float> x, std::span<const float> weight, int rows,
                                       int cols, float eps) {
  if (rows < 0 || cols <= 0 || x.size() != static_cast<size_t>(rows) * cols || weight.size() != size_t(cols))
    return invalid_argument("rmsnorm: x must be rows x cols and weight must have cols elements");
  CS_ASSIGN_OR_RETURN(auto d_x, DeviceBuffer<float>::from_host(x));
  CS_ASSIGN_OR_RETURN(auto d_w, DeviceBuffer<float>::from_host(weight));
  CS_ASSIGN_OR_RETURN(auto d_y, DeviceBuffer<float>::allocate(x.size()));
  CS_RETURN_IF_ERROR(rmsnorm_f32_launch(d_x.data(), d_w.data(), d_y.data(), rows, cols, eps, nullptr));
  CS_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return d_y.to_host();
}

}  // namespace chatscale::gpu
