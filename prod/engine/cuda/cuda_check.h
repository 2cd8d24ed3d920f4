// Error checks for CUDA runtime and cuBLAS calls inside the engine: a failing call returns a
// chatscale::Status (kUnavailable when no usable device or driver, else kInternal) from the enclosing
// function, naming the call, the error and the source line. The engine never aborts the service.
// Internal to prod/engine/cuda (it includes the CUDA headers); callers see Status only.
#pragma once

#include <string>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/status.h"

namespace chatscale::gpu {

inline Status cuda_status(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return Status::ok();
  std::string message = std::string(cudaGetErrorName(err)) + " (" + std::to_string(static_cast<int>(err)) +
                        "): " + cudaGetErrorString(err) + " in " + expr + " at " + file + ":" +
                        std::to_string(line);
  bool no_device =
      err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver || err == cudaErrorInvalidDevice;
  return no_device ? unavailable(std::move(message)) : internal_error(std::move(message));
}

inline Status cublas_status(cublasStatus_t err, const char* expr, const char* file, int line) {
  if (err == CUBLAS_STATUS_SUCCESS) return Status::ok();
  std::string message = std::string(cublasGetStatusName(err)) + ": " + cublasGetStatusString(err) + " in " +
                        expr + " at " + file + ":" + std::to_string(line);
  return err == CUBLAS_STATUS_NOT_INITIALIZED ? unavailable(std::move(message))
                                              : internal_error(std::move(message));
}

}  // namespace chatscale::gpu

#define CS_CUDA_RETURN_IF_ERROR(expr) \
  CS_RETURN_IF_ERROR(::chatscale::gpu::cuda_status((expr), #expr, __FILE__, __LINE__))
#define CS_CUBLAS_RETURN_IF_ERROR(expr) \
  CS_RETURN_IF_ERROR(::chatscale::gpu::cublas_status((expr), #expr, __FILE__, __LINE__))
