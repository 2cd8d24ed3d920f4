#include "prod/engine/server/engine_runtime.h"

#include <algorithm>
#include <filesystem>

#include "prod/engine/cpu/kv_cache.h"
#if defined(CHATSCALE_ENGINE_CUDA)
#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_model_backend.h"
#endif

#include "prod/engine/tokenizer/chat_template.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

EngineRuntime::~EngineRuntime() {
  backend_.reset();
  loop_.reset();  // stops the thread before the backend and the weights go
  model_backend_.reset();
  model_.reset();
}

namespace {

// InvalidArgument when this build or machine cannot run `device`; checked before the model is read.
Status check_device(const std::string& device) {
  if (device == "cpu") return Status::ok();
  if (device != "cuda") return invalid_argument("--device " + device + ": must be cpu or cuda");
#if defined(CHATSCALE_ENGINE_CUDA)
  auto devices = gpu::cuda_devices();
  if (!devices.is_ok()) return invalid_argument("--device cuda: no CUDA device: " + devices.status().message());
  return Status::ok();
#else
  return invalid_argument(
      "--device cuda: this build has no CUDA backend (configure with -DCHATSCALE_CUDA=ON on a machine with the "
      "CUDA toolkit)");
#endif
}

}  // namespace

Status EngineRuntime::create_backend(const EngineOptions& options) {
  const LlamaConfig& config = model_->config;
  device_ = options.device;
  if (options.device == "cuda") {
#if defined(CHATSCALE_ENGINE_CUDA)
    gpu::CudaBackendOptions co;
    co.block_size = options.block_size;
    co.max_rows = static_cast<int>(std::min<std::int64_t>(options.max_batched_tokens, 2048));
    co.max_context = options.max_context;
    co.kv_memory_utilization = options.gpu_memory_utilization;
    co.num_blocks = options.kv_blocks;
    if (co.num_blocks == 0 && options.kv_memory_mib > 0) {
      const std::int64_t per_block = 4 * config.layers * config.kv_heads * options.block_size * config.head_dim;
      co.num_blocks = std::max<std::int64_t>(1, (options.kv_memory_mib << 20) / per_block);
    }
    auto backend = gpu::CudaModelBackend::create(config, model_->weights, co);
    if (!backend.is_ok()) {
      return Status(backend.status().code(), "--device cuda: " + backend.status().message());
    }
    model_backend_ = std::move(backend).value();
    return Status::ok();
#endif
  }
  const std::int64_t per_block = CpuKvCache::bytes_per_block(config, options.block_size);
  std::int64_t blocks = options.kv_blocks;
  if (blocks == 0) {
    const std::int64_t per_seq = (config.context_length + options.block_size - 1) / options.block_size;
    const std::int64_t mib = options.kv_memory_mib > 0 ? options.kv_memory_mib : 1024;
    blocks = std::max<std::int64_t>(1, (mib << 20) / per_block);
    if (options.kv_memory_mib == 0) blocks = std::min(blocks, per_seq * options.max_seqs);
  }
  CS_ASSIGN_OR_RETURN(auto cpu, CpuModelBackend::create(config, model_->weights, blocks, options.block_size,
                                                        {.threads = options.threads}));
  threads_ = cpu->threads();
  model_backend_ = std::move(cpu);
  return Status::ok();
}

Result<std::unique_ptr<EngineRuntime>> EngineRuntime::create(const EngineOptions& options, Clock& clock) {
  CS_RETURN_IF_ERROR(check_device(options.device));
  if (options.block_size <= 0 || options.kv_blocks < 0 || options.kv_memory_mib < 0 || options.max_seqs <= 0 ||
      options.max_batched_tokens <= 0 || options.threads < 0 || options.max_context < 0 ||
      !(options.gpu_memory_utilization > 0 && options.gpu_memory_utilization <= 1)) {
    return invalid_argument(
        "engine: block size, KV sizes, max_seqs, max_batched_tokens, threads and max_context must be positive, "
        "gpu_memory_utilization in (0, 1]");
  }
  std::unique_ptr<EngineRuntime> rt(new EngineRuntime());
  CS_ASSIGN_OR_RETURN(LlamaModel model, load_llama_file(options.model_path));
  rt->model_.emplace(std::move(model));
  auto tokenizer = Tokenizer::from_gguf(rt->model_->file);
  if (!tokenizer.is_ok()) {
    return Status(tokenizer.status().code(), options.model_path + ": tokenizer: " + tokenizer.status().message());
  }
  CS_ASSIGN_OR_RETURN(ChatFormat format, detect_chat_format(*tokenizer));
  CS_RETURN_IF_ERROR(rt->create_backend(options));
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

std::string EngineRuntime::backend_text() const {
  if (device_ == "cuda") return "CUDA backend";
  return "CPU backend, " + std::to_string(threads_) + " threads";
}

}  // namespace chatscale::engine
