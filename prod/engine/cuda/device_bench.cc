#include "prod/engine/cuda/device_bench.h"

#include <algorithm>
#include <memory>
#include <vector>

#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/gemm.h"
#include "prod/engine/cuda/kernels.h"

namespace chatscale::gpu {
namespace {

// Device buffers, a stream and two events, released on every path.
struct Scratch {
  std::vector<void*> buffers;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~Scratch() {
    for (void* p : buffers) cudaFree(p);
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
  Result<void*> alloc(std::size_t bytes) {
    void* p = nullptr;
    CS_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, bytes));
    buffers.push_back(p);
    return p;
  }
  Status init() {
    CS_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
    CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop));
    return Status::ok();
  }
  Result<double> elapsed_s() {
    CS_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop));
    float ms = 0;
    CS_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms) * 1e-3;
  }
};

}  // namespace

Result<DeviceMemory> device_memory() {
  DeviceMemory m;
  CS_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&m.free_bytes, &m.total_bytes));
  return m;
}

Result<double> measure_device_copy_bytes_per_s(std::int64_t bytes, int repeats) {
  if (bytes <= 0 || repeats <= 0) return invalid_argument("copy benchmark: bytes and repeats must be positive");
  Scratch s;
  CS_RETURN_IF_ERROR(s.init());
  CS_ASSIGN_OR_RETURN(void* a, s.alloc(static_cast<std::size_t>(bytes)));
  CS_ASSIGN_OR_RETURN(void* b, s.alloc(static_cast<std::size_t>(bytes)));
  CS_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(a, 1, static_cast<std::size_t>(bytes), s.stream));
  double best = 0;
  for (int i = 0; i <= repeats; ++i) {  // run 0 warms up
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(s.start, s.stream));
    CS_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(b, a, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, s.stream));
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(s.stop, s.stream));
    CS_ASSIGN_OR_RETURN(double secs, s.elapsed_s());
    if (i > 0 && secs > 0) best = std::max(best, 2.0 * static_cast<double>(bytes) / secs);
  }
  if (!(best > 0)) return internal_error("copy benchmark: no time measured");
  return best;
}

Result<double> measure_bf16_gemm_flops(int n, int repeats) {
  if (n <= 0 || repeats <= 0) return invalid_argument("GEMM benchmark: n and repeats must be positive");
  Scratch s;
  CS_RETURN_IF_ERROR(s.init());
  const std::int64_t elems = static_cast<std::int64_t>(n) * n;
  CS_ASSIGN_OR_RETURN(void* x, s.alloc(static_cast<std::size_t>(elems) * 2));
  CS_ASSIGN_OR_RETURN(void* w, s.alloc(static_cast<std::size_t>(elems) * 2));
  CS_ASSIGN_OR_RETURN(void* y, s.alloc(static_cast<std::size_t>(elems) * 2));
  CS_RETURN_IF_ERROR(fill_random_bf16_launch(static_cast<bf16_bits*>(x), elems, 1.f, 1, s.stream));
  CS_RETURN_IF_ERROR(fill_random_bf16_launch(static_cast<bf16_bits*>(w), elems, 1.f, 2, s.stream));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<GemmContext> gemm, GemmContext::create(s.stream));
  double best = 0;
  for (int i = 0; i <= repeats; ++i) {  // run 0 warms up (cuBLAS picks its kernel)
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(s.start, s.stream));
    CS_RETURN_IF_ERROR(gemm->linear(GemmType::kBF16, x, w, y, n, n, n));
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(s.stop, s.stream));
    CS_ASSIGN_OR_RETURN(double secs, s.elapsed_s());
    if (i > 0 && secs > 0) best = std::max(best, 2.0 * static_cast<double>(elems) * n / secs);
  }
  if (!(best > 0)) return internal_error("GEMM benchmark: no time measured");
  return best;
}

}  // namespace chatscale::gpu
