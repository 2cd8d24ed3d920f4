// RMSNorm in f32 on the GPU (the normalisation of Llama-style models):
//   y[r][c] = x[r][c] / sqrt(mean_c(x[r][c]^2) + eps) * weight[c], x and y rows x cols, row-major.
// One thread block per row; the sum of squares is reduced in f32 with warp shuffles.
// Needs no CUDA headers to include. Thread-safe as far as the CUDA runtime is (per-call buffers).
// Failure: kInvalidArgument for bad shapes, kUnavailable without a device, kInternal for other CUDA
// errors; never aborts.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace chatscale::gpu {

// Device pointers; enqueues the kernel on `stream` (nullptr: the default stream) and returns once it
// is launched. Launch errors are reported; errors during execution surface at the next sync.
Status rmsnorm_f32_launch(const float* x, const float* weight, float* y, int rows, int cols, float eps,
                          CUstream_st* stream);

// Host vectors in and out: copies to the device, runs the kernel and waits for it.
Result<std::vector<float>> rmsnorm_f32(std::span<const float> x, std::span<const float> weight, int rows,
                                       int cols, float eps);

}  // namespace chatscale::gpu
