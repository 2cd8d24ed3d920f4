// The engine's CPU backend: one forward pass of a Llama-family decoder over a mixed batch (prefill
// chunks and single-token decode steps, each slice at its own positions) against a paged KV cache.
// Per layer: RMSNorm, Q/K/V projections, RoPE (llama.h: adjacent pairs), K/V written into the cache
// slots the block tables name, causal GQA attention over the cache (a token sees every position <= its
// own, earlier chunks included), output projection, residual, SwiGLU MLP, residual; then the final
// norm and the LM head for the last token of each slice with want_logits.
//
// Every weight row is read once per forward for all tokens of the batch (that is what makes batching
// pay); projections run in parallel over output rows on a persistent thread pool, attention in
// parallel over (token, KV head); weights may be F32, F16, BF16 or Q8_0 (converted to f32 in
// registers for one or two tokens, else a tile of rows into a per-thread buffer; see cpu/kernels.h).
// The KV cache is f32. Results do not depend on the thread count, on how a prompt is chunked or on
// which other sequences share the batch (bit-identical on one machine; the tests check it).
//
// Ownership: borrows the config's copy and the weights' bytes (they must outlive the backend); owns
// its thread pool, small f32 copies of the norm weights and its scratch buffers.
// The caller keeps the books: a slice at start_pos > 0 reads positions [0, start_pos) that earlier
// forwards wrote into the same blocks (the backend cannot tell stale slots from valid ones).
// Thread-safety: forward() is not re-entrant; one caller (the serving loop's inference thread) at a
// time. Failure behaviour: a batch that fails validation gives InvalidArgument with a message naming
// the slice and nothing is written (cache and logits untouched); create() rejects bad weights.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "prod/engine/cpu/kv_cache.h"
#include "prod/engine/cpu/thread_pool.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

struct CpuBackendOptions {
  int threads = 0;  // 0: std::thread::hardware_concurrency()
};

// Logits of one forward: one row of `vocab` floats per slice with want_logits, in batch order.
struct Logits {
  std::int64_t vocab = 0;
  std::vector<std::int32_t> slice;  // index into ForwardBatch::seqs of each row
  std::vector<float> values;        // rows x vocab
  std::int64_t rows() const { return static_cast<std::int64_t>(slice.size()); }
  std::span<const float> row(std::int64_t i) const {
    return {values.data() + i * vocab, static_cast<std::size_t>(vocab)};
  }
};

// Rows of logits a batch produces (slices with want_logits).
std::int64_t logits_rows(const ForwardBatch& batch);

class CpuBackend {
 public:
  // InvalidArgument when the weights do not match the config (see cpu/weights_check.h).
  static Result<CpuBackend> create(const LlamaConfig& config, const LlamaWeights& weights,
                                   CpuBackendOptions options = {});

  CpuBackend(CpuBackend&&) noexcept;
  CpuBackend& operator=(CpuBackend&&) noexcept;
  ~CpuBackend();

  const LlamaConfig& config() const { return config_; }
  int threads() const;

  // Checks a batch against the model and the cache without running it: every slice has tokens, ids
  // < vocab, start_pos >= 0, start_pos + tokens <= context_length, a block table covering every
  // position up to its last with ids < num_blocks, no block shared by two slices, no seq_id twice,
  // and (when logits_capacity >= 0) room for logits_rows(batch) x vocab floats.
  Status validate(const ForwardBatch& batch, const CpuKvCache& cache, std::int64_t logits_capacity = -1) const;

  // Runs the batch; logits_out receives logits_rows(batch) rows of vocab floats (batch order).
  Status forward(const ForwardBatch& batch, CpuKvCache& cache, std::span<float> logits_out);
  // Same, allocating the logits.
  Result<Logits> forward(const ForwardBatch& batch, CpuKvCache& cache);

 private:
  struct State;
  explicit CpuBackend(std::unique_ptr<State> state, const LlamaConfig& config);

  std::unique_ptr<State> state_;
  LlamaConfig config_;
};

}  // namespace chatscale::engine
