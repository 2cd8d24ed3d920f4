// DeviceBuffer<T>: an owning array in GPU memory (cudaMalloc/cudaFree), moved not copied, with
// host <-> device copies that return Status. Internal to prod/engine/cuda. Not thread-safe; the
// copies are synchronous (default stream).
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "core/status.h"
#include "prod/engine/cuda/cuda_check.h"

namespace chatscale::gpu {

template <typename T>
class DeviceBuffer {
 public:
  static Result<DeviceBuffer> allocate(std::size_t count) {
    DeviceBuffer buffer;
    CS_CUDA_RETURN_IF_ERROR(cudaMalloc(reinterpret_cast<void**>(&buffer.data_), count * sizeof(T)));
    buffer.count_ = count;
    return Result<DeviceBuffer>(std::move(buffer));  // explicit move: nvcc lacks C++20 implicit move here
  }
  static Result<DeviceBuffer> from_host(std::span<const T> host) {
    CS_ASSIGN_OR_RETURN(DeviceBuffer buffer, allocate(host.size()));
    CS_CUDA_RETURN_IF_ERROR(cudaMemcpy(buffer.data_, host.data(), host.size_bytes(), cudaMemcpyHostToDevice));
    return Result<DeviceBuffer>(std::move(buffer));  // explicit move: nvcc lacks C++20 implicit move here
  }

  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);  // an error here has no one to report to
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }

  Result<std::vector<T>> to_host() const {
    std::vector<T> host(count_);
    CS_CUDA_RETURN_IF_ERROR(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace chatscale::gpu
