// The CUDA kernels of the Llama decoder (device pointers in, enqueued on `stream`, Status out).
// bf16 values are passed as std::uint16_t* (the bit pattern of __nv_bfloat16) so that this header
// needs no CUDA headers. Every launcher validates its shapes (kInvalidArgument) and returns launch
// errors (kInternal / kUnavailable); errors during execution surface at the caller's next sync.
// Never aborts. Thread-safe as far as the CUDA runtime is: no state besides the arguments.
//
// Layouts (row-major; "rows" are tokens of the batch):
// - embedding table: [vocab][hidden] bf16 (a GGUF token_embd of dims {hidden, vocab}).
// - qkv: [tokens][(heads + 2 kv_heads) * head_dim] f32: q heads, then k heads, then v heads.
// - paged KV cache of one layer: [num_blocks][kv_heads][block_size][head_dim] bf16, separately for K
//   and V. A sequence's block table row (max_blocks entries) maps position p to block
//   table[p / block_size], slot p % block_size.
// - attention output: [tokens][heads * head_dim] bf16.
#pragma once

#include <cstdint>

#include "core/status.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace chatscale::gpu {

using bf16_bits = std::uint16_t;

// out[r][:] = table[tokens[r]][:] as f32 (tokens outside [0, vocab) give a zero row).
Status embedding_launch(const bf16_bits* table, const std::int32_t* tokens, float* out, int rows, int hidden,
                        int vocab, CUstream_st* stream);

// y[r][c] = bf16(x[r][c] / sqrt(mean_c(x[r][c]^2) + eps) * weight[c]): f32 in, f32 accumulation,
// bf16 out (the input of the next GEMM).
Status rmsnorm_f32_bf16_launch(const float* x, const float* weight, bf16_bits* y, int rows, int cols,
                               float eps, CUstream_st* stream);

// RoPE in place on the q and k heads of qkv (adjacent pairs, llama.h): pair i of every head of row r
// rotates by positions[r] * inv_freq[i], i < rope_dim / 2 (inv_freq already holds theta and the
// frequency factors).
Status rope_launch(float* qkv, const std::int32_t* positions, const float* inv_freq, int rows, int heads,
                   int kv_heads, int head_dim, int rope_dim, CUstream_st* stream);

// Writes the k and v heads of qkv row r (position positions[r] of the sequence whose block table is
// block_tables[seq_of_row[r] * max_blocks ...]) into the paged caches as bf16.
Status kv_write_launch(const float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                       const std::int32_t* block_tables, int max_blocks, bf16_bits* k_cache,
                       bf16_bits* v_cache, int rows, int heads, int kv_heads, int head_dim, int block_size,
                       CUstream_st* stream);

// rope_launch and kv_write_launch in one kernel (the forward pass uses this one; the two above are the
// reference its check compares against): rotates the q heads of qkv in place and writes the rotated
// k heads and the v heads of each row into the paged caches as bf16; the k heads in qkv are left as
// they were (attention reads K from the cache).
Status rope_kv_write_launch(float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                            const float* inv_freq, const std::int32_t* block_tables, int max_blocks,
                            bf16_bits* k_cache, bf16_bits* v_cache, int rows, int heads, int kv_heads, int head_dim,
                            int rope_dim, int block_size, CUstream_st* stream);

// Paged attention. Query row r (sequence seq_of_row[r]) attends to cached positions
// [0, positions[r]] of its sequence (causal: a prefill chunk's rows see the chunk's earlier rows once
// their K/V are written). Split-K ("flash decoding"): each (row, kv head) is cut into chunks of
// kAttnChunk positions handled by separate blocks, then combined. `partial` is scratch of
// attention_partial_floats(rows, heads, head_dim, max_context) floats; max_context bounds every
// positions[r] + 1 (it fixes the grid, so a captured graph serves any context up to it).
inline constexpr int kAttnChunk = 64;
std::int64_t attention_partial_floats(int rows, int heads, int head_dim, int max_context);
Status attention_launch(const float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                        const std::int32_t* block_tables, int max_blocks, const bf16_bits* k_cache,
                        const bf16_bits* v_cache, float* partial, bf16_bits* out, int rows, int heads,
                        int kv_heads, int head_dim, int block_size, int max_context, CUstream_st* stream);

// out[r][i] = bf16(silu(gate_up[r][i]) * gate_up[r][ffn + i]) (gate_up rows are [gate | up], f32).
Status silu_mul_launch(const float* gate_up, bf16_bits* out, int rows, int ffn, CUstream_st* stream);

// x[i] += y[i] (f32).
Status add_launch(float* x, const float* y, std::int64_t n, CUstream_st* stream);

// tokens[r] = argmax_c logits[r][c] (the lowest index among ties).
Status argmax_launch(const float* logits, std::int32_t* tokens, int rows, int vocab, CUstream_st* stream);

// Temperature + top-k + top-p sampling, one row per sequence; seeds[r] and steps[r] pick the random
// number (counter-based hash, reproducible). temperature <= 0 or top_k == 1 gives argmax.
// top_k is clamped to [1, kMaxTopK] (0 means kMaxTopK); top_p in (0, 1].
inline constexpr int kMaxTopK = 64;
Status sample_launch(const float* logits, const std::uint64_t* seeds, const std::int32_t* steps,
                     const float* temperature, const std::int32_t* top_k, const float* top_p,
                     std::int32_t* tokens, int rows, int vocab, CUstream_st* stream);

// Fills n bf16 values with uniform(-scale, scale) from a counter-based hash of (seed, index).
Status fill_random_bf16_launch(bf16_bits* out, std::int64_t n, float scale, std::uint64_t seed,
                               CUstream_st* stream);
// Fills n f32 values with `value`.
Status fill_f32_launch(float* out, std::int64_t n, float value, CUstream_st* stream);

}  // namespace chatscale::gpu
