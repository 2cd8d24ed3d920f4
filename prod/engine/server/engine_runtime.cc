#include "prod/engine/server/engine_runtime.h"

#include <algorithm>
#include <filesystem>

#include "prod/engine/cpu/kv_cache.h"

#include "prod/engine/tokenizer/chat_template.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

EngineRuntime::~EngineRuntime() {
  backend_.reset();
  loop_.reset();  // stops the thread before the backend and the weights go
  model_backend_.reset();
  model_.reset();
}

Result<std::unique_ptr<EngineRuntime>> EngineRuntime::create(const EngineOptions& options, Clock& clock) {
  if (options.device != "cpu") {
    return invalid_argument("--device " + options.device +
                            ": not available for serving in this build (the CUDA backend does not implement the "
                            "engine's ModelBackend yet); use --device cpu");
  }
  if (options.block_size <= 0 || options.kv_blocks < 0 || options.kv_memory_mib < 0 || options.max_seqs <= 0 ||
      options.max_batched_tokens <= 0 || options.threads < 0) {
    return invalid_argument("engine: block size, KV sizes, max_seqs, max_batched_tokens and threads must be positive");
  }
  std::unique_ptr<EngineRuntime> rt(new EngineRuntime());
  CS_ASSIGN_OR_RETURN(LlamaModel model, load_llama_file(options.model_path));
  rt->model_.emplace(std::move(model));
  auto tokenizer = Tokenizer::from_gguf(rt->model_->file);
  if (!tokenizer.is_ok()) {
    return Status(tokenizer.status().code(), options.model_path + ": tokenizer: " + tokenizer.status().message());
  }
  CS_ASSIGN_OR_RETURN(ChatFormat format, detect_chat_format(*tokenizer));
  const LlamaConfig& config = rt->model_->config;
  const std::int64_t per_block = CpuKvCache::bytes_per_block(config, options.block_size);
  std::int64_t blocks = options.kv_blocks;
  if (blocks == 0) {
    const std::int64_t per_seq = (config.context_length + options.block_size - 1) / options.block_size;
    const std::int64_t mib = options.kv_memory_mib > 0 ? options.kv_memory_mib : 1024;
    blocks = std::max<std::int64_t>(1, (mib << 20) / per_block);
    if (options.kv_memory_mib == 0) blocks = std::min(blocks, per_seq * options.max_seqs);
  }
  CS_ASSIGN_OR_RETURN(rt->model_backend_, CpuModelBackend::create(config, rt->model_->weights, blocks, options.block_size,
                                                                  {.threads = options.threads}));
  EngineLoopOptions lo;
  lo.max_num_batched_tokens = options.max_batched_tokens;
  lo.max_num_seqs = options.max_seqs;
  lo.max_waiting = options.max_waiting;
  CS_ASSIGN_OR_RETURN(rt->loop_, EngineLoop::create(*rt->model_backend_, lo));
  EngineBackendConfig bc = options.backend;
  if (bc.model.empty()) bc.model = std::filesystem::path(options.model_path).stem().string();
  rt->backend_ = std::make_unique<EngineBackend>(clock, *rt->loop_, std::move(tokenizer).value(), format, std::move(bc));
  return rt;
}

namespace {

class OwningBackend : public InferenceBackend {
 public:
  explicit OwningBackend(std::unique_ptr<EngineRuntime> runtime) : runtime_(std::move(runtime)) {}
  const std::string& name() const override { return runtime_->backend().name(); }
  BackendLoad load() const override { return runtime_->backend().load(); }
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override {
    return runtime_->backend().start(request);
  }

 private:
  std::unique_ptr<EngineRuntime> runtime_;
};

}  // namespace

std::unique_ptr<InferenceBackend> owning_backend(std::unique_ptr<EngineRuntime> runtime) {
  return std::make_unique<OwningBackend>(std::move(runtime));
}

}  // namespace chatscale::engine
