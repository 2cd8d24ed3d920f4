// The Llama-family decoder as the engine's backends see it: its hyper-parameters (LlamaConfig), views
// of its weights (LlamaWeights, usually into a mapped GGUF file), and one forward batch over a paged
// KV cache (ForwardBatch). The GGUF loader (model/) fills the first two; the CPU and CUDA backends
// consume all three; the serving loop builds batches from the shared scheduler's plans and block
// tables. Plain structs, header-only, standard library only; views borrow (see tensor.h).
//
// Conventions (those of GGUF files written by llama.cpp's converters):
// - Linear weights have dims {in, out} (rows are output features); y = W x.
// - RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head by angle pos * inv_freq[i],
//   inv_freq[i] = rope_theta^(-2i / rope_dim) / freq_factor[i] (factors from `rope_freqs.weight` or
//   computed from the Llama-3 scaling parameters; 1 when neither). The converters permute Q and K so
//   that this matches the HF checkpoints' rotate-half form.
// - Attention: heads query heads of head_dim; kv_heads key/value heads, query head h reads kv head
//   h / (heads / kv_heads); scale 1/sqrt(head_dim); causal.
// - Block: x += Wo attn(rope(Wq n), rope(Wk n), Wv n) with n = rmsnorm(x) * attn_norm;
//          x += Wdown (silu(Wgate m) * (Wup m)) with m = rmsnorm(x) * ffn_norm;
//   logits = Woutput (rmsnorm(x) * output_norm); Woutput is token_embd when the file has no output.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "prod/engine/tensor.h"

namespace chatscale::engine {

enum class RopeScaling { kNone, kLlama3 };

struct LlamaConfig {
  std::int64_t vocab = 0;
  std::int64_t hidden = 0;
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_dim = 0;        // usually hidden / heads
  std::int64_t ffn = 0;
  std::int64_t context_length = 0;  // the model's trained context
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  std::int64_t rope_dim = 0;        // rotated dimensions per head (== head_dim for Llama)
  // Llama-3.1 scaling (used when the file has no rope_freqs tensor):
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 8.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  std::int64_t rope_original_context = 8192;
};

struct LlamaLayerWeights {
  TensorView attn_norm;  // {hidden}
  TensorView wq;         // {hidden, heads * head_dim}
  TensorView wk;         // {hidden, kv_heads * head_dim}
  TensorView wv;         // {hidden, kv_heads * head_dim}
  TensorView wo;         // {heads * head_dim, hidden}
  TensorView ffn_norm;   // {hidden}
  TensorView w_gate;     // {hidden, ffn}
  TensorView w_up;       // {hidden, ffn}
  TensorView w_down;     // {ffn, hidden}
};

struct LlamaWeights {
  TensorView token_embd;   // {hidden, vocab}: row t is token t's embedding
  TensorView output_norm;  // {hidden}
  TensorView output;       // {hidden, vocab}; equal to token_embd when tied
  TensorView rope_freqs;   // {rope_dim / 2} f32 frequency factors, or n_dims == 0 when absent
  std::vector<LlamaLayerWeights> layers;
};

// One sequence's slice of a forward batch: tokens at positions [start_pos, start_pos + tokens.size()),
// whose K and V go to (and whose attention reads from) the KV blocks in block_table, block b holding
// positions [b * block_size, (b + 1) * block_size). The table covers every position up to the last.
struct SeqSlice {
  std::uint64_t seq_id = 0;
  std::span<const std::int32_t> tokens;
  std::int64_t start_pos = 0;
  std::span<const std::int32_t> block_table;
  bool want_logits = true;  // logits of the slice's last token are produced
};

// A mixed iteration: prefill chunks and decode steps (a decode step is a slice of one token).
struct ForwardBatch {
  std::vector<SeqSlice> seqs;
};

}  // namespace chatscale::engine
