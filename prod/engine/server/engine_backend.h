// EngineBackend: the service's InferenceBackend port over the project's own engine (EngineLoop +
// Tokenizer + chat template). start() renders the request's messages with the model's chat template
// (Llama 3 or Llama 2, chosen from the GGUF tokenizer.chat_template or the vocabulary), encodes them
// with the model's tokenizer and submits the ids to the loop with the request's temperature (greedy at
// 0), max_tokens (0: the configured default, else up to the context) and the vocabulary's
// end-of-generation ids; the stream turns tokens into text deltas holding back incomplete UTF-8
// (StreamingDecoder; bytes that form no character become U+FFFD), then kDone with usage {prompt ids as encoded by the model's tokenizer, tokens
// generated (a stop token included)} and the finish reason (kStop or kLength).
//
// Waiting: next(deadline) polls the engine stream and sleeps on the Clock between polls (1 ms), so a
// caller inside a task (prod/runtime/task.h) suspends instead of blocking an Asio I/O thread; a plain
// thread blocks. load(): healthy, in_flight = requests submitted and not ended, capacity = the loop's
// running + waiting bound.
//
// EngineRuntime owns a whole in-process engine built from a GGUF file: the mapped model, the CPU
// model backend with its KV cache, the loop and the backend adapter (`chatscale engine` and serve.yaml
// backends of kind engine use it).
//
// Ownership: EngineBackend borrows the clock and the loop (they must outlive it and its streams).
// Thread-safety: start()/load()/name() from any thread or task; a stream is read by one task at a
// time; cancel() and destruction free the sequence's KV blocks at once. Failure behaviour: start()
// returns InvalidArgument for a conversation the template cannot render or a prompt beyond the context
// ("prompt of N tokens exceeds the context of M tokens"), Unavailable when the loop's waiting queue is
// full; an engine failure mid-stream is an InferenceEvent::failure; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ports/clock.h"
#include "ports/inference.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/serving/engine_loop.h"
#include "prod/engine/tokenizer/chat_template.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

struct EngineBackendConfig {
  std::string name = "engine";
  std::string model;                // the model name reported (OpenAI "model")
  std::string region;
  std::int64_t default_max_tokens = 0;  // for requests with max_tokens 0; 0: up to the context
};

class EngineBackend : public InferenceBackend {
 public:
  EngineBackend(Clock& clock, EngineLoop& loop, Tokenizer tokenizer, ChatFormat format, EngineBackendConfig config);

  const std::string& name() const override { return config_.name; }
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  const EngineBackendConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The prompt ids start() would submit for these messages.
  Result<std::vector<std::int32_t>> encode_messages(const std::vector<ChatTurn>& messages) const;

 private:
  Clock& clock_;
  EngineLoop& loop_;
  Tokenizer tokenizer_;
  ChatFormat format_;
  EngineBackendConfig config_;
  std::vector<std::int32_t> eog_ids_;
};

struct EngineOptions {
  std::string model_path;
  std::string device = "cpu";         // "cpu" ("cuda" is refused: no CUDA serving backend yet)
  int threads = 0;                    // 0: all cores
  std::int64_t kv_blocks = 0;         // 0: from kv_memory_mib
  std::int64_t kv_memory_mib = 0;     // 0: enough for max_seqs full contexts, capped at 1024 MiB
  std::int32_t block_size = 16;
  std::int64_t max_batched_tokens = 512;
  std::int32_t max_seqs = 32;
  std::int64_t max_waiting = 256;
  EngineBackendConfig backend;        // model defaults to the file's name without .gguf
};

// The model, its CPU backend and KV cache, the loop and the adapter, destroyed in the right order.
class EngineRuntime {
 public:
  // InvalidArgument for bad options, an unreadable or non-Llama model, or device "cuda".
  static Result<std::unique_ptr<EngineRuntime>> create(const EngineOptions& options, Clock& clock);
  ~EngineRuntime();

  EngineBackend& backend() { return *backend_; }
  EngineLoop& loop() { return *loop_; }
  const LlamaConfig& config() const { return model_->config; }
  std::int64_t kv_blocks() const { return model_backend_->num_blocks(); }
  std::int32_t block_size() const { return model_backend_->block_size(); }
  int threads() const { return model_backend_->threads(); }

 private:
  EngineRuntime() = default;

  std::optional<LlamaModel> model_;
  std::unique_ptr<CpuModelBackend> model_backend_;
  std::unique_ptr<EngineLoop> loop_;
  std::unique_ptr<EngineBackend> backend_;
};

// An InferenceBackend that owns a whole EngineRuntime and forwards to its EngineBackend (for owners
// that hold backends as std::unique_ptr<InferenceBackend>, like ChatServer).
std::unique_ptr<InferenceBackend> owning_backend(std::unique_ptr<EngineRuntime> runtime);

}  // namespace chatscale::engine
