// C = A * B in f32 through cuBLAS (cublasSgemm, default math mode: no TF32), row-major: A is m x k,
// B is k x n, C is m x n. Host vectors in and out; a cuBLAS handle per call (a test and calibration
// helper, not the serving path). Needs no CUDA headers to include.
// Failure: kInvalidArgument for bad shapes, kUnavailable without a device or when cuBLAS cannot
// initialise, kInternal for other CUDA/cuBLAS errors; never aborts.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

namespace chatscale::gpu {

Result<std::vector<float>> matmul_f32(std::span<const float> a, std::span<const float> b, int m, int k,
                                      int n);

}  // namespace chatscale::gpu
