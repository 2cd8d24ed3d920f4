// CudaProfileBackend: the profiler's ProfileBackend (profile/profile_backend.h) on one GPU, over a
// CudaModelBackend (decode batches through CUDA graphs, as served; prefill eager). Its device
// description: the GPU's name and memory (cudaGetDeviceProperties), the measured device-to-device copy
// bandwidth (cudaMemcpy, bytes read plus written) and the peak rate of a square cuBLAS bf16 GEMM
// (flops_method says so); kv_dtype "bf16". fill_kv_random fills every block of the cache (a superset
// of the blocks asked for; only timing matters). profile_cuda() sizes the model for a grid and runs
// the Profiler, like profile_cpu().
//
// Ownership: owns its CudaModelBackend. Thread-safety: one caller at a time. Failure behaviour: every
// call returns a Status (kUnavailable without a device, kInvalidArgument for a bad batch or block id,
// kInternal for other CUDA/cuBLAS errors); never aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "prod/engine/cuda/cuda_model_backend.h"
#include "prod/engine/profile/profile_backend.h"
#include "prod/engine/profile/profiler.h"

namespace chatscale::gpu {

class CudaProfileBackend final : public engine::ProfileBackend {
 public:
  explicit CudaProfileBackend(std::unique_ptr<CudaModelBackend> backend) : backend_(std::move(backend)) {}

  const engine::LlamaConfig& config() const override { return backend_->config(); }
  std::int32_t block_size() const override { return backend_->block_size(); }
  std::int64_t num_blocks() const override { return backend_->num_blocks(); }
  Status forward(const engine::ForwardBatch& batch, std::span<float> logits) override {
    return backend_->forward(batch, logits);
  }
  Status synchronize() override { return backend_->model().synchronize(); }
  Status fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t seed) override;
  Result<engine::DeviceDescription> describe_device(bool quick) override;

 private:
  std::unique_ptr<CudaModelBackend> backend_;
};

struct CudaProfileOptions {
  std::int32_t block_size = 16;
  double kv_budget_bytes = 0;  // 0: no budget (the grid's blocks are allocated or the allocation fails)
  bool quick_device = false;
};

// Sizes max_rows, the context cap and the KV cache from the grid, uploads the model and profiles it.
Result<engine::ProfileResult> profile_cuda(const engine::LlamaConfig& config, const engine::LlamaWeights& weights,
                                           const engine::ProfileGrid& grid, const CudaProfileOptions& options,
                                           const engine::Profiler::Progress& progress = {});
// The same with random bf16 weights generated on the device (CudaModel::create_random): a profile of
// a model shape without its weights (the standalone engine_profile_cuda; timing does not depend on
// the values).
Result<engine::ProfileResult> profile_cuda_random(const engine::LlamaConfig& config, const engine::ProfileGrid& grid,
                                                  const CudaProfileOptions& options, std::uint64_t seed,
                                                  const engine::Profiler::Progress& progress = {});

}  // namespace chatscale::gpu
