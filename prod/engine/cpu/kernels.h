// Numeric kernels of the CPU backend: row dequantisation (F32, F16, BF16, Q8_0 to f32), dot products
// and the batched matrix product out = x W^T that reads each weight row once for all tokens. Each has
// a plain C++ path and an AVX2/FMA/F16C path (function-level target attribute) chosen once at run
// time with __builtin_cpu_supports; the library is built without -march flags.
//
// Determinism: one output element is always computed by the same sequence of operations, whatever the
// thread count, the number of tokens in the batch or the row grouping (one accumulator per
// (row, token) pair), so batched and single-sequence runs agree bit for bit on one machine.
//
// Stateless free functions; thread-safe. Arguments are not validated (the backend validates batches).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "prod/engine/cpu/thread_pool.h"
#include "prod/engine/tensor.h"

namespace chatscale::engine::cpu {

// True when the AVX2 paths are in use (CPU has AVX2, FMA and F16C, and CHATSCALE_CPU_NO_AVX2 is unset).
bool simd_enabled();

// Converts row `r` of `w` to f32 in `dst` (w.cols() floats).
void dequantize_row(const TensorView& w, std::int64_t r, float* dst);

// sum_i a[i] * b[i], eight partial sums combined in a fixed order.
float dot(const float* a, const float* b, std::int64_t n);

// out[t * out_stride + r] = sum_i W[r][i] * x[t * x_stride + i] for every row r of w and t < tokens.
// Parallel over rows on `pool`; scratch holds one dequantisation buffer per pool worker (resized here).
void matmul(const TensorView& w, const float* x, std::int64_t x_stride, std::int64_t tokens, float* out,
            std::int64_t out_stride, ThreadPool& pool, std::vector<std::vector<float>>& scratch);

// Attention over one run of cached positions for the `group` query heads sharing a KV head
// (q_j = q + j * hd, row p of K or V at k + p * k_stride):
//   sc[j * sc_stride + p] = scale * q_j . k_p                    (attn_scores)
//   o[j * hd + d] += sum_p w[j * w_stride + p] * v[p * v_stride + d], p in order   (attn_accumulate)
void attn_scores(const float* q, std::int64_t group, std::int64_t hd, const float* k, std::int64_t k_stride,
                 std::int64_t count, float scale, float* sc, std::int64_t sc_stride);
void attn_accumulate(const float* w, std::int64_t w_stride, std::int64_t group, const float* v, std::int64_t v_stride,
                     std::int64_t count, float* o, std::int64_t hd);

// One weight of a matmul_multi: out[t * out_stride + r] = row r of *w . x_t.
struct MatmulJob {
  const TensorView* w;
  float* out;
  std::int64_t out_stride;
};

// Several weights against the same activations (Q, K and V; gate and up) in one parallel dispatch.
void matmul_multi(std::span<const MatmulJob> jobs, const float* x, std::int64_t x_stride, std::int64_t tokens,
                  ThreadPool& pool, std::vector<std::vector<float>>& scratch);

// y[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i] (sum of squares in double).
void rmsnorm(const float* x, const float* weight, std::int64_t n, float eps, float* y);

}  // namespace chatscale::engine::cpu
