#include "prod/engine/serving/model_backend.h"

#include <utility>

namespace chatscale::engine {

Result<std::unique_ptr<CpuModelBackend>> CpuModelBackend::create(const LlamaConfig& config,
                                                                 const LlamaWeights& weights,
                                                                 std::int64_t num_blocks, std::int32_t block_size,
                                                                 CpuBackendOptions options) {
  if (num_blocks <= 0 || block_size <= 0) {
    return invalid_argument("CPU model backend: num_blocks (" + std::to_string(num_blocks) + ") and block_size (" +
                            std::to_string(block_size) + ") must be positive");
  }
  CS_ASSIGN_OR_RETURN(CpuBackend backend, CpuBackend::create(config, weights, options));
  CS_ASSIGN_OR_RETURN(CpuKvCache cache, CpuKvCache::create(config, num_blocks, block_size));
  return std::unique_ptr<CpuModelBackend>(new CpuModelBackend(std::move(backend), std::move(cache)));
}

}  // namespace chatscale::engine
