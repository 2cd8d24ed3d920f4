#include "prod/engine/cpu/kv_cache.h"

#include <string>

namespace chatscale::engine {

Result<CpuKvCache> CpuKvCache::create(const LlamaConfig& config, std::int64_t num_blocks, std::int32_t block_size) {
  if (num_blocks <= 0 || block_size <= 0 || config.layers <= 0 || config.kv_heads <= 0 || config.head_dim <= 0) {
    return invalid_argument("CpuKvCache: num_blocks " + std::to_string(num_blocks) + ", block_size " +
                            std::to_string(block_size) + ", layers, kv_heads and head_dim must be positive");
  }
  constexpr std::int64_t kMaxFloats = std::int64_t{1} << 40;
  const std::int64_t per_block = static_cast<std::int64_t>(block_size) * config.layers * config.kv_heads *
                                 config.head_dim;
  if (per_block > kMaxFloats || num_blocks > kMaxFloats / per_block) {
    return invalid_argument("CpuKvCache: " + std::to_string(num_blocks) + " blocks of " +
                            std::to_string(per_block) + " floats is too large");
  }
  CpuKvCache c;
  c.num_blocks_ = num_blocks;
  c.block_size_ = block_size;
  c.layers_ = config.layers;
  c.kv_heads_ = config.kv_heads;
  c.head_dim_ = config.head_dim;
  c.k_.assign(static_cast<std::size_t>(num_blocks * per_block), 0.0f);
  c.v_.assign(static_cast<std::size_t>(num_blocks * per_block), 0.0f);
  return c;
}

}  // namespace chatscale::engine
