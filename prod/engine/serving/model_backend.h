// The serving loop's view of a model: a backend that runs one ForwardBatch (prefill chunks and decode
// slices over a paged KV cache whose blocks it owns) and writes one row of logits per slice with
// want_logits. CpuModelBackend implements it over CpuBackend + CpuKvCache; gpu::CudaModelBackend
// (prod/engine/cuda/cuda_model_backend.h) implements it on a GPU. The KV cache's block_size and num_blocks
// are the backend's; the loop sizes its KvBlockManager from them, so block ids in the batch's tables are
// valid cache blocks.
//
// Ownership: a CpuModelBackend owns its CpuBackend and CpuKvCache and borrows the weights' bytes
// (they must outlive it). Thread-safety: forward() is called by one thread (the loop's) at a time;
// config(), block_size() and num_blocks() are immutable. Failure behaviour: forward() returns the
// backend's Status (InvalidArgument for a bad batch, nothing written); create() rejects bad weights
// or cache shapes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "prod/engine/cpu/cpu_backend.h"
#include "prod/engine/cpu/kv_cache.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  virtual const LlamaConfig& config() const = 0;
  virtual std::int32_t block_size() const = 0;
  virtual std::int64_t num_blocks() const = 0;
  // Runs the batch; `logits` holds at least logits_rows(batch) x vocab floats (batch order).
  virtual Status forward(const ForwardBatch& batch, std::span<float> logits) = 0;
};

class CpuModelBackend final : public ModelBackend {
 public:
  static Result<std::unique_ptr<CpuModelBackend>> create(const LlamaConfig& config, const LlamaWeights& weights,
                                                         std::int64_t num_blocks, std::int32_t block_size,
                                                         CpuBackendOptions options = {});

  const LlamaConfig& config() const override { return backend_.config(); }
  std::int32_t block_size() const override { return cache_.block_size(); }
  std::int64_t num_blocks() const override { return cache_.num_blocks(); }
  Status forward(const ForwardBatch& batch, std::span<float> logits) override {
    return backend_.forward(batch, cache_, logits);
  }
  int threads() const { return backend_.threads(); }

 private:
  CpuModelBackend(CpuBackend backend, CpuKvCache cache) : backend_(std::move(backend)), cache_(std::move(cache)) {}

  CpuBackend backend_;
  CpuKvCache cache_;
};

}  // namespace chatscale::engine
