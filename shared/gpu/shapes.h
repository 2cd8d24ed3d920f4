// What the GPU iteration-time model reasons about: a decoder-only transformer's shape (ModelShape),
// a GPU's physical limits (GpuSpecs), and the composition of one engine iteration (IterationShape:
// prefill chunks and decode sequences batched together, as a continuous-batching engine runs them).
//
// Ownership: plain values. Thread-safety: values; no shared state. Failure: the validators and the
// YAML loader return errors as values ("file:line: field: problem" for files); nothing throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale {

// A dense decoder with grouped-query attention and a gated (SwiGLU) MLP, like Llama.
struct ModelShape {
  std::string name;
  std::int64_t hidden = 0;
  std::int64_t heads = 0;     // query heads
  std::int64_t kv_heads = 0;  // key/value heads (grouped-query attention)
  std::int64_t head_dim = 0;
  std::int64_t ffn = 0;       // MLP inner size
  std::int64_t layers = 0;
  std::int64_t vocab = 0;
  std::int64_t dtype_bytes = 2;  // weights, activations and KV cache (2: bf16, 1: fp8)

  // Weights of one decoder layer (QKV, output, gate/up, down projections; norms ignored).
  double layer_parameters() const;
  // Every layer plus the input embedding and the LM head.
  double parameters() const;
  // KV-cache bytes one token takes on one GPU of a tensor-parallel group of `tp` (all layers).
  double kv_bytes_per_token_per_gpu(int tp) const;
};

// Positive sizes, heads a multiple of kv_heads, dtype_bytes 1, 2 or 4.
Status validate_model_shape(const ModelShape& shape);
// `tp` >= 1 divides heads and ffn, and kv_heads divides or is a multiple of tp (KV heads are split
// across the group, or replicated when there are fewer of them than GPUs).
Status check_tensor_parallel(const ModelShape& shape, int tp);

// Reads a model shape from YAML: hidden, heads, kv_heads, head_dim, ffn, layers, vocab (required),
// dtype_bytes (default 2), name (optional). Errors read "file:line: field: problem".
Result<ModelShape> parse_model_shape(std::string_view yaml, const std::string& filename);
Result<ModelShape> load_model_shape_file(const std::string& path);

// One GPU. The bandwidth and FLOP rate are the achievable figures a profile measured (a device copy
// and a large bf16 GEMM), not the datasheet's; the fitted efficiencies are relative to them.
struct GpuSpecs {
  std::string name;
  double hbm_bytes_per_s = 3.0e12;         // device-to-device copy, bytes read plus written
  double dense_bf16_flops = 782e12;        // large bf16 GEMM; fp8 runs at twice this rate
  double memory_bytes = 80e9;              // HBM capacity
  double nvlink_bytes_per_s = 450e9;       // per direction, per GPU (DGX H100)
  double allreduce_latency_s = 10e-6;      // fixed cost of one NCCL all-reduce within a node
};

// Dense tensor-core FLOP/s for elements of `dtype_bytes` bytes (fp8 doubles bf16, fp32/tf32 halves it).
double tensor_flops(const GpuSpecs& gpu, std::int64_t dtype_bytes);

// Tokens of KV cache one GPU of a tensor-parallel group holds: `usable_fraction` of its memory,
// minus its share of the weights, over the per-token KV bytes. 0 when the weights do not fit.
std::int64_t kv_capacity_tokens(const ModelShape& shape, const GpuSpecs& gpu, int tp, double usable_fraction = 0.9);

// `tokens` new prompt tokens of one sequence, appended after `context_before` tokens already cached
// (0 for a whole prompt; more for a later chunk of a chunked prefill).
struct PrefillWork {
  std::int64_t tokens = 0;
  std::int64_t context_before = 0;
};

// One engine iteration: prefill chunks and decode sequences (one new token each, over a KV cache of
// the given length) run through the model together.
struct IterationShape {
  std::vector<PrefillWork> prefills;
  std::vector<std::int64_t> decode_contexts;

  // `batch` sequences of one new token each over `context` cached tokens.
  static IterationShape decode(std::int64_t batch, std::int64_t context);
  // `batch` whole prompts of `tokens` tokens each.
  static IterationShape prefill(std::int64_t batch, std::int64_t tokens);

  // Tokens the layers process: prefill tokens plus one per decode sequence.
  std::int64_t tokens() const;
  // Rows of logits the LM head computes: one per decode sequence and one per prefill chunk.
  std::int64_t logit_rows() const;
  bool empty() const { return prefills.empty() && decode_contexts.empty(); }
  bool decode_only() const { return prefills.empty() && !decode_contexts.empty(); }
};

}  // namespace chatscale
