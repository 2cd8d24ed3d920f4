// Device-side reductions shared by the CUDA kernels (rmsnorm.cu, kernels.cu): a warp sum over
// shuffles and a block sum (warps reduce with shuffles, warp 0 reduces the warp sums). Device code
// only: include from .cu files. No state besides the block's shared memory; no failure modes.
#pragma once

#include <cuda_runtime.h>

namespace chatscale::gpu {

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of v over a block of kThreads threads (a multiple of 32, at most 1024; blockDim.x must equal
// it), returned to every thread. Every thread of the block must call it. It uses static shared
// memory: a kernel that calls it twice needs a __syncthreads() between the calls.
template <int kThreads>
__device__ __forceinline__ float block_sum(float v) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block_sum: kThreads must be a multiple of 32, <= 1024");
  __shared__ float warp_sums[kThreads / 32];
  __shared__ float total;
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    float t = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
    t = warp_sum(t);
    if (threadIdx.x == 0) total = t;
  }
  __syncthreads();
  return total;
}

}  // namespace chatscale::gpu
