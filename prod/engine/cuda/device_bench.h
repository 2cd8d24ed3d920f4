// Measurements of the current CUDA device for the profiler (chatscale-gpu-profile/1) and the KV cache
// sizing of the serving backend: free/total memory, device-to-device copy bandwidth (cudaMemcpy of a
// buffer, bytes read plus written per second, best of `repeats`) and the dense bf16 tensor-core rate
// (a square cuBLAS GemmEx of bf16 inputs with f32 accumulation, 2 n^3 FLOPs per GEMM, best of
// `repeats`). Needs no CUDA headers to include.
// Plain functions; each allocates and frees its own buffers and stream. Thread-compatible.
// Failure: kUnavailable without a usable device, kInternal for other CUDA/cuBLAS errors,
// kInvalidArgument for non-positive sizes; never aborts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace chatscale::gpu {

struct DeviceMemory {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

// cudaMemGetInfo of the current device.
Result<DeviceMemory> device_memory();
// Copies `bytes` device-to-device `repeats` times; returns the best (read + written bytes) / s.
Result<double> measure_device_copy_bytes_per_s(std::int64_t bytes, int repeats);
// An n x n x n bf16 GEMM (f32 accumulate, bf16 out) `repeats` times after one warm-up; best FLOP/s.
Result<double> measure_bf16_gemm_flops(int n, int repeats);

}  // namespace chatscale::gpu
