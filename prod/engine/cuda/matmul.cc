#include "prod/engine/cuda/matmul.h"

#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/device_buffer.h"

namespace chatscale::gpu {
namespace {

class CublasHandle {
 public:
  static Result<CublasHandle> create() {
    CublasHandle h;
    CS_CUBLAS_RETURN_IF_ERROR(cublasCreate(&h.handle_));
    return h;
  }
  CublasHandle(CublasHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&&) = delete;
  ~CublasHandle() {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }
  cublasHandle_t get() const { return handle_; }

 private:
  CublasHandle() = default;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace

Result<std::vector<float>> matmul_f32(std::span<const float> a, std::span<const float> b, int m, int k,
                                      int n) {
  if (m <= 0 || k <= 0 || n <= 0 || a.size() != size_t(m) * k || b.size() != size_t(k) * n)
    return invalid_argument("matmul: A must be m x k and B k x n, all positive");
  CS_ASSIGN_OR_RETURN(auto d_a, DeviceBuffer<float>::from_host(a));
  CS_ASSIGN_OR_RETURN(auto d_b, DeviceBuffer<float>::from_host(b));
  CS_ASSIGN_OR_RETURN(auto d_c, DeviceBuffer<float>::allocate(size_t(m) * n));
  CS_ASSIGN_OR_RETURN(CublasHandle handle, CublasHandle::create());
  // cuBLAS is column-major: a row-major C (m x n) is a column-major C^T = B^T A^T, where the row-major
  // B and A buffers already are B^T (n x k) and A^T (k x m) in column-major terms.
  const float alpha = 1.f;
  const float beta = 0.f;
  CS_CUBLAS_RETURN_IF_ERROR(cublasSgemm(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, d_b.data(),
                                        n, d_a.data(), k, &beta, d_c.data(), n));
  CS_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return d_c.to_host();
}

}  // namespace chatscale::gpu
