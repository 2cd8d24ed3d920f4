// KV-cache block manager: the paged KV cache of one engine (one GPU or one tensor-parallel group) as
// fixed-size blocks of `block_size` token slots, handed out to sequences and returned when they finish
// or are preempted. The continuous-batching scheduler owns one; the real engine reads the block tables
// to address its paged attention, the simulator reads the counts. Prefix sharing is not modelled: every
// block belongs to exactly one sequence.
//
// Cost: allocate and free are O(blocks moved) (a free list used as a stack, so each block op is O(1));
// lookups by sequence are O(1) on average. Block ids are 0..num_blocks-1; the most recently freed block
// is handed out first (warm in cache, and deterministic).
//
// Ownership: owns its free list and block tables. No clock reads, no I/O.
// Thread-safety: none; the owner (the scheduler's single inference loop) serialises calls.
// Failure behaviour: allocation is all-or-nothing (Unavailable when the free blocks do not suffice,
// nothing changes); bad arguments are InvalidArgument and change nothing.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace chatscale {

using SeqId = std::uint64_t;
using BlockId = std::int32_t;

// What a GPU's memory leaves for the KV cache, in the terms vLLM sizes it: a fraction of the device
// memory is the engine's; weights and the activation reserve (peak activations, CUDA graphs, cuBLAS
// workspace) come off first; the rest is cut into blocks of block_size tokens x kv_bytes_per_token.
struct KvMemoryBudget {
  std::int64_t gpu_memory_bytes = 0;
  double memory_utilization = 0.9;              // vLLM's gpu_memory_utilization, in (0, 1]
  std::int64_t weight_bytes = 0;                // per GPU (after tensor-parallel sharding)
  std::int64_t activation_reserve_bytes = 0;
  std::int64_t kv_bytes_per_token = 0;          // K and V, all layers, per GPU
  std::int32_t block_size = 16;                 // tokens per block
};

// 2 (K and V) x layers x kv_heads x head_dim x bytes per element. E.g. Llama-3-8B in bf16:
// 2 x 32 x 8 x 128 x 2 = 131,072 bytes per token. InvalidArgument when a figure is not positive.
Result<std::int64_t> kv_bytes_per_token(std::int32_t layers, std::int32_t kv_heads,
                                        std::int32_t head_dim, std::int32_t bytes_per_element);

// Number of whole blocks the budget leaves for the KV cache. InvalidArgument when a figure is out of
// range or when the weights and the reserve do not fit in the usable memory (no room for one block).
Result<std::int64_t> kv_blocks_for(const KvMemoryBudget& budget);

class KvBlockManager {
 public:
  // block_size and num_blocks are clamped to at least 1 and 0.
  KvBlockManager(std::int32_t block_size, std::int64_t num_blocks);

  std::int32_t block_size() const { return block_size_; }
  std::int64_t num_blocks() const { return num_blocks_; }
  std::int64_t num_free_blocks() const { return static_cast<std::int64_t>(free_.size()); }
  std::int64_t num_used_blocks() const { return num_blocks_ - num_free_blocks(); }
  // Used / total in [0, 1]; 0 for a cache of no blocks.
  double usage() const;
  // Blocks that hold `tokens` token slots: ceil(tokens / block_size).
  std::int64_t blocks_for_tokens(std::int64_t tokens) const;

  // Blocks that `new_tokens` more slots for `seq` would take (a new sequence starts with none).
  std::int64_t blocks_needed(SeqId seq, std::int64_t new_tokens) const;
  bool can_allocate(SeqId seq, std::int64_t new_tokens) const;
  // Reserves `new_tokens` more slots for `seq`, taking blocks from the free list as needed; all or
  // nothing. Unavailable when too few blocks are free, InvalidArgument when new_tokens < 0.
  Status allocate(SeqId seq, std::int64_t new_tokens);
  // Returns all of `seq`'s blocks to the free list; returns how many (0 for an unknown sequence).
  std::int64_t free(SeqId seq);

  std::int64_t num_tokens(SeqId seq) const;       // slots reserved for seq (0 if unknown)
  std::int64_t num_blocks_of(SeqId seq) const;    // blocks held by seq (0 if unknown)
  // seq's physical blocks in logical order; empty for an unknown sequence. Valid until the next
  // allocate or free for that sequence.
  const std::vector<BlockId>& block_table(SeqId seq) const;
  std::int64_t num_sequences() const { return static_cast<std::int64_t>(tables_.size()); }

  // Full audit, O(blocks): every block is either free or in exactly one table, tables hold exactly
  // blocks_for_tokens(slots) blocks. Internal on the first breach. For tests and debug checks.
  Status check_consistency() const;

 private:
  struct Table {
    std::vector<BlockId> blocks;
    std::int64_t tokens = 0;
  };

  std::int32_t block_size_;
  std::int64_t num_blocks_;
  std::vector<BlockId> free_;  // stack: back() is handed out next
  std::unordered_map<SeqId, Table> tables_;
};

}  // namespace chatscale
