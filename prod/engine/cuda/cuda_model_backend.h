// CudaModelBackend: the serving loop's ModelBackend (serving/model_backend.h) over a CudaModel, so
// that EngineLoop, `chatscale engine --device cuda` and serve.yaml backends with device cuda run on
// one GPU. The contract is CpuModelBackend's: forward() writes one row of vocab logits per slice with
// want_logits, in batch order; a batch that fails validation (no tokens, seq_id twice, negative or
// too large positions, a block table too short, a block id outside the cache or used twice, a token
// outside the vocabulary, too small a logits buffer) gives InvalidArgument naming the slice, and
// nothing is run or written.
// - A batch of one-token slices (decode) that fits max_rows runs through the CUDA graph of its batch
//   size (captured on first use); other batches (prefill chunks, mixed) run eagerly, split into
//   forwards of at most max_rows tokens (a slice may be cut across them: its K/V are written in order).
// - config().context_length is the model's, capped at options.max_context (it sizes the attention
//   scratch and block tables); the loop refuses longer prompts with its usual error.
// - KV cache: options.num_blocks blocks of block_size, or (num_blocks 0) kv_memory_utilization of the
//   device memory free once the weights and buffers are allocated.
//
// Ownership: owns its CudaModel (device memory, stream, graphs); the weights are copied to the device
// at create() and may be released afterwards. Thread-safety: forward() from one thread at a time (the
// loop's); config(), block_size() and num_blocks() are immutable. Failure behaviour: every CUDA or
// cuBLAS error comes back as a Status (kUnavailable without a device, kInternal otherwise); never aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "prod/engine/cuda/cuda_model.h"
#include "prod/engine/llama.h"
#include "prod/engine/serving/model_backend.h"

namespace chatscale::gpu {

struct CudaBackendOptions {
  int max_rows = 512;                  // tokens per device forward (larger batches are split)
  std::int64_t num_blocks = 0;         // KV blocks; 0: from free device memory
  std::int32_t block_size = 16;
  double kv_memory_utilization = 0.9;  // with num_blocks 0
  std::int64_t max_context = 8192;     // cap on the model's context_length (0: the model's)
  bool decode_graphs = true;           // decode batches through CUDA graphs (false: eager, for checks)
};

class CudaModelBackend final : public engine::ModelBackend {
 public:
  static Result<std::unique_ptr<CudaModelBackend>> create(const engine::LlamaConfig& config,
                                                          const engine::LlamaWeights& weights,
                                                          const CudaBackendOptions& options = {});
  // Random weights generated on the device (benchmarks and checks).
  static Result<std::unique_ptr<CudaModelBackend>> create_random(const engine::LlamaConfig& config,
                                                                 const CudaBackendOptions& options,
                                                                 std::uint64_t seed);

  const engine::LlamaConfig& config() const override { return config_; }
  std::int32_t block_size() const override { return model_->block_size(); }
  std::int64_t num_blocks() const override { return model_->num_blocks(); }
  Status forward(const engine::ForwardBatch& batch, std::span<float> logits) override;

  // The checks of forward() without running anything.
  Status validate(const engine::ForwardBatch& batch, std::int64_t logits_capacity) const;
  CudaModel& model() { return *model_; }
  std::int64_t graph_forwards() const { return graph_forwards_; }  // forwards run as a graph replay
  std::int64_t eager_forwards() const { return eager_forwards_; }  // device forwards run eagerly

 private:
  CudaModelBackend(std::unique_ptr<CudaModel> model, const engine::LlamaConfig& config,
                   const CudaBackendOptions& options)
      : model_(std::move(model)), config_(config), options_(options) {}
  static Result<CudaModelOptions> model_options(const engine::LlamaConfig& config, const CudaBackendOptions& o);
  Status forward_eager(const engine::ForwardBatch& batch, std::span<float> logits);

  std::unique_ptr<CudaModel> model_;
  engine::LlamaConfig config_;
  CudaBackendOptions options_;
  std::int64_t graph_forwards_ = 0;
  std::int64_t eager_forwards_ = 0;
};

}  // namespace chatscale::gpu
