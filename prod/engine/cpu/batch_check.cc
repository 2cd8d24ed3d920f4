#include "prod/engine/cpu/batch_check.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "prod/engine/cpu/cpu_backend.h"  // logits_rows

namespace chatscale::engine {
namespace {

constexpr std::int64_t kMaxPositions = std::int64_t{1} << 40;  // keeps position arithmetic far from overflow

std::string slice_name(std::size_t i, const SeqSlice& s) {
  return "batch slice " + std::to_string(i) + " (seq " + std::to_string(s.seq_id) + ")";
}

}  // namespace

Status check_forward_batch(const LlamaConfig& config, const ForwardBatch& batch, std::int64_t block_size,
                           std::int64_t num_blocks, std::int64_t logits_capacity) {
  const std::int64_t bs = block_size;
  const LlamaConfig& c = config;
  std::unordered_set<std::uint64_t> ids;
  std::unordered_map<std::int32_t, std::size_t> owner;
  for (std::size_t i = 0; i < batch.seqs.size(); ++i) {
    const SeqSlice& s = batch.seqs[i];
    const std::int64_t n = static_cast<std::int64_t>(s.tokens.size());
    if (n == 0) return invalid_argument(slice_name(i, s) + ": no tokens");
    if (!ids.insert(s.seq_id).second) return invalid_argument(slice_name(i, s) + ": seq_id appears twice in the batch");
    if (s.start_pos < 0) return invalid_argument(slice_name(i, s) + ": negative start_pos");
    if (s.start_pos > kMaxPositions) {
      return invalid_argument(slice_name(i, s) + ": start_pos " + std::to_string(s.start_pos) + " is implausibly large");
    }
    const std::int64_t end = s.start_pos + n;
    if (c.context_length > 0 && end > c.context_length) {
      return invalid_argument(slice_name(i, s) + ": positions up to " + std::to_string(end) +
                              " exceed the model's context length " + std::to_string(c.context_length));
    }
    const std::int64_t needed = (end + bs - 1) / bs;
    if (static_cast<std::int64_t>(s.block_table.size()) < needed) {
      return invalid_argument(slice_name(i, s) + ": block table of " + std::to_string(s.block_table.size()) +
                              " blocks covers " + std::to_string(s.block_table.size() * bs) + " positions, " +
                              std::to_string(end) + " needed");
    }
    for (std::int64_t b = 0; b < needed; ++b) {
      const std::int32_t id = s.block_table[static_cast<std::size_t>(b)];
      if (id < 0 || id >= num_blocks) {
        return invalid_argument(slice_name(i, s) + ": block id " + std::to_string(id) + " outside the cache's " +
                                std::to_string(num_blocks) + " blocks");
      }
      auto [it, fresh] = owner.emplace(id, i);
      if (!fresh && it->second != i) {
        return invalid_argument(slice_name(i, s) + ": block " + std::to_string(id) + " is also used by slice " +
                                std::to_string(it->second));
      }
      if (!fresh) return invalid_argument(slice_name(i, s) + ": block " + std::to_string(id) + " appears twice");
    }
    for (std::int32_t t : s.tokens) {
      if (t < 0 || t >= c.vocab) {
        return invalid_argument(slice_name(i, s) + ": token id " + std::to_string(t) + " outside the vocabulary of " +
                                std::to_string(c.vocab));
      }
    }
  }
  if (logits_capacity >= 0 && logits_capacity < logits_rows(batch) * c.vocab) {
    return invalid_argument("logits buffer of " + std::to_string(logits_capacity) + " floats, " +
                            std::to_string(logits_rows(batch) * c.vocab) + " needed");
  }
  return Status::ok();
}

}  // namespace chatscale::engine
