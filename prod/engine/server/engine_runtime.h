// EngineRuntime owns a whole in-process engine built from a GGUF file: the mapped model, the model
// backend with its KV cache, the serving loop and the InferenceBackend adapter (EngineBackend), and
// destroys them in the right order. `chatscale engine` and serve.yaml backends of kind engine use it.
//
// Ownership: the runtime owns everything it builds; it borrows the Clock (which must outlive it).
// Thread-safety: create() from any thread; the backend it hands out is thread-safe (engine_backend.h).
// Devices: "cpu" (CpuModelBackend, f32 KV cache) or "cuda" (gpu::CudaModelBackend on the first GPU, bf16
// weights and KV cache; only in builds with the CUDA engine, CHATSCALE_ENGINE_CUDA).
// Failure behaviour: create() returns InvalidArgument for bad options, an unreadable or non-Llama
// model, or a device this build cannot serve on ("--device cuda: this build has no CUDA backend ..."
// or "--device cuda: no CUDA device: <CUDA error>"); CUDA/cuBLAS errors come back as Status; nothing
// throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ports/clock.h"
#include "ports/inference.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/server/engine_backend.h"
#include "prod/engine/serving/engine_loop.h"
#include "prod/engine/serving/model_backend.h"

namespace chatscale::engine {

struct EngineOptions {
  std::string model_path;
  std::string device = "cpu";         // "cpu" or "cuda"
  int threads = 0;                    // 0: all cores (cpu)
  std::int64_t kv_blocks = 0;         // 0: from kv_memory_mib
  std::int64_t kv_memory_mib = 0;     // 0: cpu: enough for max_seqs full contexts, capped at 1024 MiB;
                                      //    cuda: gpu_memory_utilization of the memory left after the weights
  double gpu_memory_utilization = 0.9;  // cuda, with kv_blocks and kv_memory_mib 0
  std::int64_t max_context = 8192;    // cuda: cap on the served context (sizes attention scratch); 0: model's
  std::int32_t block_size = 16;
  std::int64_t max_batched_tokens = 512;
  std::int32_t max_seqs = 32;
  std::int64_t max_waiting = 256;
  EngineBackendConfig backend;        // model defaults to the file's name without .gguf
};

// The model, its backend (CPU or CUDA) and KV cache, the loop and the adapter, destroyed in the right order.
class EngineRuntime {
 public:
  // InvalidArgument for bad options, an unreadable or non-Llama model, or a device not available here.
  static Result<std::unique_ptr<EngineRuntime>> create(const EngineOptions& options, Clock& clock);
  ~EngineRuntime();

  EngineBackend& backend() { return *backend_; }
  EngineLoop& loop() { return *loop_; }
  // The served config (cuda: context_length capped at max_context).
  const LlamaConfig& config() const { return model_backend_->config(); }
  std::int64_t kv_blocks() const { return model_backend_->num_blocks(); }
  std::int32_t block_size() const { return model_backend_->block_size(); }
  int threads() const { return threads_; }  // CPU threads of the forward pass (0 on cuda)
  const std::string& device() const { return device_; }
  // Where the forward pass runs, for start-up banners: "CPU backend, 4 threads" or "CUDA backend".
  std::string backend_text() const;

 private:
  EngineRuntime() = default;
  Status create_backend(const EngineOptions& options);

  std::optional<LlamaModel> model_;
  std::unique_ptr<ModelBackend> model_backend_;
  int threads_ = 0;
  std::string device_;
  std::unique_ptr<EngineLoop> loop_;
  std::unique_ptr<EngineBackend> backend_;
};

// An InferenceBackend that owns a whole EngineRuntime and forwards to its EngineBackend (for owners
// that hold backends as std::unique_ptr<InferenceBackend>, like ChatServer).
std::unique_ptr<InferenceBackend> owning_backend(std::unique_ptr<EngineRuntime> runtime);

}  // namespace chatscale::engine
