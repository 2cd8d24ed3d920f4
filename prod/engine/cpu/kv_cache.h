// The CPU backend's paged KV cache: num_blocks blocks of block_size token slots, each slot holding K
// and V (f32) of every layer and KV head. Sequences address it through SeqSlice::block_table (block
// ids from the shared KvBlockManager, same block_size): position p of a sequence lives in block
// table[p / block_size], slot p % block_size.
//
// Layout: [layer][block][slot][kv_head][head_dim] for K and V separately, so one position's heads
// are contiguous and a block of one layer is one contiguous run.
//
// Ownership: owns its storage (num_blocks x block_size x layers x kv_heads x head_dim x 2 floats).
// Thread-safety: none; the backend writes it during forward; distinct blocks may be touched by
// distinct threads. Failure behaviour: create() is InvalidArgument for non-positive shapes or a size
// that overflows; accessors do not check their arguments.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

class CpuKvCache {
 public:
  static Result<CpuKvCache> create(const LlamaConfig& config, std::int64_t num_blocks, std::int32_t block_size);
  // Bytes one block takes (K and V, all layers): size a cache from a memory budget with it.
  static std::int64_t bytes_per_block(const LlamaConfig& config, std::int32_t block_size) {
    return 2 * static_cast<std::int64_t>(sizeof(float)) * block_size * config.layers * config.kv_heads * config.head_dim;
  }

  std::int64_t num_blocks() const { return num_blocks_; }
  std::int32_t block_size() const { return block_size_; }
  std::int64_t layers() const { return layers_; }
  std::int64_t kv_heads() const { return kv_heads_; }
  std::int64_t head_dim() const { return head_dim_; }
  std::int64_t bytes() const { return static_cast<std::int64_t>((k_.size() + v_.size()) * sizeof(float)); }

  // kv_heads * head_dim floats of K (or V) at (layer, block, slot).
  float* k(std::int64_t layer, std::int64_t block, std::int64_t slot) { return k_.data() + offset(layer, block, slot); }
  float* v(std::int64_t layer, std::int64_t block, std::int64_t slot) { return v_.data() + offset(layer, block, slot); }
  const float* k(std::int64_t layer, std::int64_t block, std::int64_t slot) const {
    return k_.data() + offset(layer, block, slot);
  }
  const float* v(std::int64_t layer, std::int64_t block, std::int64_t slot) const {
    return v_.data() + offset(layer, block, slot);
  }

 private:
  CpuKvCache() = default;
  std::size_t offset(std::int64_t layer, std::int64_t block, std::int64_t slot) const {
    return static_cast<std::size_t>(((layer * num_blocks_ + block) * block_size_ + slot) * kv_heads_ * head_dim_);
  }

  std::int64_t num_blocks_ = 0;
  std::int32_t block_size_ = 0;
  std::int64_t layers_ = 0;
  std::int64_t kv_heads_ = 0;
  std::int64_t head_dim_ = 0;
  std::vector<float> k_;
  std::vector<float> v_;
};

}  // namespace chatscale::engine
