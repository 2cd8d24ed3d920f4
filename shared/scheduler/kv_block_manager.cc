#include "scheduler/kv_block_manager.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace chatscale {

Result<std::int64_t> kv_bytes_per_token(std::int32_t layers, std::int32_t kv_heads,
                                        std::int32_t head_dim, std::int32_t bytes_per_element) {
  if (layers <= 0 || kv_heads <= 0 || head_dim <= 0 || bytes_per_element <= 0) {
    return invalid_argument("kv_bytes_per_token: layers, kv_heads, head_dim and bytes per element "
                            "must be positive");
  }
  return std::int64_t{2} * layers * kv_heads * head_dim * bytes_per_element;
}

Result<std::int64_t> kv_blocks_for(const KvMemoryBudget& b) {
  if (b.gpu_memory_bytes <= 0 || b.weight_bytes < 0 || b.activation_reserve_bytes < 0 ||
      b.kv_bytes_per_token <= 0 || b.block_size <= 0) {
    return invalid_argument("kv_blocks_for: GPU memory, KV bytes per token and block size must be "
                            "positive; weights and reserve not negative");
  }
  if (!std::isfinite(b.memory_utilization) || b.memory_utilization <= 0 ||
      b.memory_utilization > 1) {
    return invalid_argument("kv_blocks_for: memory_utilization must be in (0, 1]");
  }
  // long double keeps 141 GB x 0.9 exact enough; the floor is taken once, on whole bytes.
  const auto usable = static_cast<std::int64_t>(
      std::floor(static_cast<long double>(b.gpu_memory_bytes) * b.memory_utilization));
  const std::int64_t left = usable - b.weight_bytes - b.activation_reserve_bytes;
  const std::int64_t block_bytes = b.kv_bytes_per_token * b.block_size;
  if (left < block_bytes) {
    return invalid_argument("kv_blocks_for: weights (" + std::to_string(b.weight_bytes) +
                            " B) and activation reserve (" +
                            std::to_string(b.activation_reserve_bytes) + " B) leave " +
                            std::to_string(std::max<std::int64_t>(left, 0)) + " B of " +
                            std::to_string(usable) + " B usable: not one KV block of " +
                            std::to_string(block_bytes) + " B");
  }
  return left / block_bytes;
}

KvBlockManager::KvBlockManager(std::int32_t block_size, std::int64_t num_blocks)
    : block_size_(std::max<std::int32_t>(block_size, 1)),
      num_blocks_(std::clamp<std::int64_t>(num_blocks, 0, std::numeric_limits<BlockId>::max())) {
  free_.reserve(static_cast<std::size_t>(num_blocks_));
  // Highest id at the bottom, so block 0 is handed out first.
  for (std::int64_t i = num_blocks_ - 1; i >= 0; --i) free_.push_back(static_cast<BlockId>(i));
}

double KvBlockManager::usage() const {
  if (num_blocks_ == 0) return 0;
  return static_cast<double>(num_used_blocks()) / static_cast<double>(num_blocks_);
}

std::int64_t KvBlockManager::blocks_for_tokens(std::int64_t tokens) const {
  if (tokens <= 0) return 0;
  return (tokens + block_size_ - 1) / block_size_;
}

std::int64_t KvBlockManager::blocks_needed(SeqId seq, std::int64_t new_tokens) const {
  if (new_tokens <= 0) return 0;
  const std::int64_t have_tokens = num_tokens(seq);
  return blocks_for_tokens(have_tokens + new_tokens) - num_blocks_of(seq);
}

bool KvBlockManager::can_allocate(SeqId seq, std::int64_t new_tokens) const {
  return new_tokens >= 0 && blocks_needed(seq, new_tokens) <= num_free_blocks();
}

Status KvBlockManager::allocate(SeqId seq, std::int64_t new_tokens) {
  if (new_tokens < 0) return invalid_argument("KV allocate: negative token count");
  const std::int64_t need = blocks_needed(seq, new_tokens);
  if (need > num_free_blocks()) {
    return unavailable("KV cache full: " + std::to_string(need) + " blocks needed, " +
                       std::to_string(num_free_blocks()) + " free");
  }
  if (new_tokens == 0) return Status::ok();
  Table& table = tables_[seq];
  for (std::int64_t i = 0; i < need; ++i) {
    table.blocks.push_back(free_.back());
    free_.pop_back();
  }
  table.tokens += new_tokens;
  return Status::ok();
}

std::int64_t KvBlockManager::free(SeqId seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return 0;
  const auto n = static_cast<std::int64_t>(it->second.blocks.size());
  // Returned in reverse so that the sequence's first block is the next one handed out.
  for (auto b = it->second.blocks.rbegin(); b != it->second.blocks.rend(); ++b) free_.push_back(*b);
  tables_.erase(it);
  return n;
}

std::int64_t KvBlockManager::num_tokens(SeqId seq) const {
  auto it = tables_.find(seq);
  return it == tables_.end() ? 0 : it->second.tokens;
}

std::int64_t KvBlockManager::num_blocks_of(SeqId seq) const {
  auto it = tables_.find(seq);
  return it == tables_.end() ? 0 : static_cast<std::int64_t>(it->second.blocks.size());
}

const std::vector<BlockId>& KvBlockManager::block_table(SeqId seq) const {
  static const std::vector<BlockId> kEmpty;
  auto it = tables_.find(seq);
  return it == tables_.end() ? kEmpty : it->second.blocks;
}

Status KvBlockManager::check_consistency() const {
  std::vector<int> owners(static_cast<std::size_t>(num_blocks_), 0);
  auto mark = [&](BlockId b) -> Status {
    if (b < 0 || b >= num_blocks_) return internal_error("block id out of range: " + std::to_string(b));
    if (++owners[static_cast<std::size_t>(b)] > 1) {
      return internal_error("block " + std::to_string(b) + " owned twice");
    }
    return Status::ok();
  };
  for (BlockId b : free_) CS_RETURN_IF_ERROR(mark(b));
  for (const auto& [seq, table] : tables_) {
    if (static_cast<std::int64_t>(table.blocks.size()) != blocks_for_tokens(table.tokens)) {
      return internal_error("sequence " + std::to_string(seq) + " holds " +
                            std::to_string(table.blocks.size()) + " blocks for " +
                            std::to_string(table.tokens) + " tokens");
    }
    for (BlockId b : table.blocks) CS_RETURN_IF_ERROR(mark(b));
  }
  for (std::size_t b = 0; b < owners.size(); ++b) {
    if (owners[b] == 0) return internal_error("block " + std::to_string(b) + " leaked");
  }
  return Status::ok();
}

}  // namespace chatscale
