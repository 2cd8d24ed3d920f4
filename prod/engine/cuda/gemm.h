// GemmContext: a cuBLAS handle bound to one stream with its own workspace (so that the GEMMs can be
// captured in a CUDA graph), and the projection y = x W^T on tensor cores: x [rows][in] and W
// [out][in] (a GGUF weight of dims {in, out}) in bf16 or f16, f32 accumulation, y [rows][out] in f32
// (y = alpha x W^T + beta y: beta 1 adds into a residual) or in the input type.
// Owns the handle and workspace; not thread-safe (one stream). Failure: kInvalidArgument for bad
// shapes, kUnavailable when cuBLAS cannot initialise, kInternal for other errors; never aborts.
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"

struct CUstream_st;

namespace chatscale::gpu {

enum class GemmType { kBF16, kF16 };

class GemmContext {
 public:
  static Result<std::unique_ptr<GemmContext>> create(CUstream_st* stream);
  ~GemmContext();
  GemmContext(const GemmContext&) = delete;
  GemmContext& operator=(const GemmContext&) = delete;

  // y (f32) = alpha * x W^T + beta * y.
  Status linear_f32_out(GemmType type, const void* x, const void* w, float* y, int rows, int in, int out,
                        float alpha = 1.f, float beta = 0.f);
  // y (same type as x and W) = x W^T.
  Status linear(GemmType type, const void* x, const void* w, void* y, int rows, int in, int out);

 private:
  GemmContext() = default;
  void* handle_ = nullptr;     // cublasHandle_t
  void* workspace_ = nullptr;  // device memory
};

}  // namespace chatscale::gpu
