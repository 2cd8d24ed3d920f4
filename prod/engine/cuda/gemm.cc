#include "prod/engine/cuda/gemm.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"

namespace chatscale::gpu {
namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLAS's recommendation for Hopper

cudaDataType_t cuda_type(GemmType t) { return t == GemmType::kBF16 ? CUDA_R_16BF : CUDA_R_16F; }

Status check_shape(const void* x, const void* w, const void* y, int rows, int in, int out) {
  if (rows < 0 || in <= 0 || out <= 0) return invalid_argument("gemm: rows >= 0, in > 0, out > 0 required");
  if (rows > 0 && (x == nullptr || w == nullptr || y == nullptr)) return invalid_argument("gemm: null pointer");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<GemmContext>> GemmContext::create(CUstream_st* stream) {
  std::unique_ptr<GemmContext> ctx(new GemmContext());
  cublasHandle_t handle = nullptr;
  CS_CUBLAS_RETURN_IF_ERROR(cublasCreate(&handle));
  ctx->handle_ = handle;
  CS_CUBLAS_RETURN_IF_ERROR(cublasSetStream(handle, stream));
  CS_CUDA_RETURN_IF_ERROR(cudaMalloc(&ctx->workspace_, kWorkspaceBytes));
  CS_CUBLAS_RETURN_IF_ERROR(cublasSetWorkspace(handle, ctx->workspace_, kWorkspaceBytes));
  return ctx;
}

GemmContext::~GemmContext() {
  if (handle_ != nullptr) cublasDestroy(static_cast<cublasHandle_t>(handle_));
  if (workspace_ != nullptr) cudaFree(workspace_);
}

// Row-major y [rows][out] is column-major y^T (out x rows) = W (column-major in x out, transposed)
// times x^T (column-major in x rows): the "TN" layout tensor cores like.
Status GemmContext::linear_f32_out(GemmType type, const void* x, const void* w, float* y, int rows, int in,
                                   int out, float alpha, float beta) {
  CS_RETURN_IF_ERROR(check_shape(x, w, y, rows, in, out));
  if (rows == 0) return Status::ok();
  CS_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(static_cast<cublasHandle_t>(handle_), CUBLAS_OP_T, CUBLAS_OP_N, out,
                                         rows, in, &alpha, w, cuda_type(type), in, x, cuda_type(type), in,
                                         &beta, y, CUDA_R_32F, out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return Status::ok();
}

Status GemmContext::linear(GemmType type, const void* x, const void* w, void* y, int rows, int in, int out) {
  CS_RETURN_IF_ERROR(check_shape(x, w, y, rows, in, out));
  if (rows == 0) return Status::ok();
  const float alpha = 1.f, beta = 0.f;
  CS_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(static_cast<cublasHandle_t>(handle_), CUBLAS_OP_T, CUBLAS_OP_N, out,
                                         rows, in, &alpha, w, cuda_type(type), in, x, cuda_type(type), in,
                                         &beta, y, cuda_type(type), out, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT));
  return Status::ok();
}

}  // namespace chatscale::gpu
