// Element-wise, normalisation, RoPE, KV-write and sampling kernels (see kernels.h).
#include "prod/engine/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "prod/engine/cuda/block_reduce.cuh"
#include "prod/engine/cuda/cuda_check.h"

namespace chatscale::gpu {
namespace {

__device__ __forceinline__ float bf16_load(const bf16_bits* p) {
  return __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p));
}
__device__ __forceinline__ bf16_bits bf16_bits_of(float f) {
  __nv_bfloat16 h = __float2bfloat16_rn(f);
  return *reinterpret_cast<bf16_bits*>(&h);
}
__device__ __forceinline__ unsigned long long splitmix64(unsigned long long x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

__global__ void embedding_kernel(const bf16_bits* table, const std::int32_t* tokens, float* out, int hidden,
                                 int vocab) {
  const int t = tokens[blockIdx.x];
  float* row = out + static_cast<size_t>(blockIdx.x) * hidden;
  const bool valid = t >= 0 && t < vocab;
  const bf16_bits* src = table + static_cast<size_t>(valid ? t : 0) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) row[c] = valid ? bf16_load(src + c) : 0.f;
}

constexpr int kNormThreads = 256;
__global__ void rmsnorm_bf16_kernel(const float* x, const float* weight, bf16_bits* y, int cols, float eps) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  bf16_bits* out = y + static_cast<size_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c] * row[c];
  const float inv_rms = rsqrtf(block_sum<kNormThreads>(sum) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) out[c] = bf16_bits_of(row[c] * inv_rms * weight[c]);
}

// One block per row; thread j handles pair j % half of head j / half (q heads then k heads).
__global__ void rope_kernel(float* qkv, const std::int32_t* positions, const float* inv_freq, int heads,
                            int kv_heads, int head_dim, int rope_dim) {
  const int half = rope_dim / 2;
  const int qkv_dim = (heads + 2 * kv_heads) * head_dim;
  float* row = qkv + static_cast<size_t>(blockIdx.x) * qkv_dim;
  const float pos = static_cast<float>(positions[blockIdx.x]);
  for (int j = threadIdx.x; j < (heads + kv_heads) * half; j += blockDim.x) {
    const int head = j / half;
    const int i = j % half;
    float s, c;
    sincosf(pos * inv_freq[i], &s, &c);
    float* p = row + head * head_dim + 2 * i;
    const float a = p[0], b = p[1];
    p[0] = a * c - b * s;
    p[1] = a * s + b * c;
  }
}

__global__ void kv_write_kernel(const float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                                const std::int32_t* block_tables, int max_blocks, bf16_bits* k_cache,
                                bf16_bits* v_cache, int heads, int kv_heads, int head_dim, int block_size) {
  const int r = blockIdx.x;
  const int qkv_dim = (heads + 2 * kv_heads) * head_dim;
  const float* k = qkv + static_cast<size_t>(r) * qkv_dim + heads * head_dim;
  const float* v = k + kv_heads * head_dim;
  const int pos = positions[r];
  const int block = block_tables[static_cast<size_t>(seq_of_row[r]) * max_blocks + pos / block_size];
  const int slot = pos % block_size;
  for (int j = threadIdx.x; j < kv_heads * head_dim; j += blockDim.x) {
    const int h = j / head_dim, d = j % head_dim;
    const size_t at = ((static_cast<size_t>(block) * kv_heads + h) * block_size + slot) * head_dim + d;
    k_cache[at] = bf16_bits_of(k[j]);
    v_cache[at] = bf16_bits_of(v[j]);
  }
}

// The fusion of rope_kernel and kv_write_kernel (one launch per layer instead of two): one block per
// row rotates the row's q heads in place and writes its k heads, rotated, and its v heads into the
// paged caches as bf16. The k heads in qkv stay unrotated (attention reads K from the cache only).
__global__ void rope_kv_write_kernel(float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                                     const float* inv_freq, const std::int32_t* block_tables, int max_blocks,
                                     bf16_bits* k_cache, bf16_bits* v_cache, int heads, int kv_heads, int head_dim,
                                     int rope_dim, int block_size) {
  const int r = blockIdx.x;
  const int half = rope_dim / 2;
  const int qkv_dim = (heads + 2 * kv_heads) * head_dim;
  float* row = qkv + static_cast<size_t>(r) * qkv_dim;
  const int pos = positions[r];
  const float fpos = static_cast<float>(pos);
  for (int j = threadIdx.x; j < heads * half; j += blockDim.x) {
    const int i = j % half;
    float s, c;
    sincosf(fpos * inv_freq[i], &s, &c);
    float* p = row + (j / half) * head_dim + 2 * i;
    const float a = p[0], b = p[1];
    p[0] = a * c - b * s;
    p[1] = a * s + b * c;
  }
  const float* k = row + heads * head_dim;
  const float* v = k + kv_heads * head_dim;
  const int block = block_tables[static_cast<size_t>(seq_of_row[r]) * max_blocks + pos / block_size];
  const int slot = pos % block_size;
  for (int j = threadIdx.x; j < kv_heads * head_dim; j += blockDim.x) {
    const int h = j / head_dim, d = j % head_dim;
    float value = k[j];
    if (d < rope_dim) {
      float s, c;
      sincosf(fpos * inv_freq[d / 2], &s, &c);
      const float a = k[j - d % 2], b = k[j - d % 2 + 1];
      value = d % 2 == 0 ? a * c - b * s : a * s + b * c;
    }
    const size_t at = ((static_cast<size_t>(block) * kv_heads + h) * block_size + slot) * head_dim + d;
    k_cache[at] = bf16_bits_of(value);
    v_cache[at] = bf16_bits_of(v[j]);
  }
}

__global__ void silu_mul_kernel(const float* gate_up, bf16_bits* out, int ffn, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = i / ffn, c = i % ffn;
    const float g = gate_up[r * 2 * ffn + c];
    const float u = gate_up[r * 2 * ffn + ffn + c];
    out[i] = bf16_bits_of(g / (1.f + __expf(-g)) * u);
  }
}

__global__ void add_kernel(float* x, const float* y, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

// (value, index) ordering: larger value first, then lower index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
  return v > bv || (v == bv && i < bi);
}

constexpr int kArgmaxThreads = 1024;
// Block-wide best of each thread's (value, index); the result lands in every thread.
__device__ void block_best(float& v, int& i) {
  __shared__ float sv[32];
  __shared__ int si[32];
  for (int o = 16; o > 0; o /= 2) {
    float ov = __shfl_xor_sync(0xffffffffu, v, o);
    int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (better(ov, oi, v, i)) v = ov, i = oi;
  }
  const int warps = blockDim.x / 32;
  __syncthreads();
  if (threadIdx.x % 32 == 0) sv[threadIdx.x / 32] = v, si[threadIdx.x / 32] = i;
  __syncthreads();
  v = -INFINITY;
  i = 0x7fffffff;
  for (int w = 0; w < warps; ++w)
    if (better(sv[w], si[w], v, i)) v = sv[w], i = si[w];
}

__global__ void argmax_kernel(const float* logits, std::int32_t* tokens, int vocab) {
  const float* row = logits + static_cast<size_t>(blockIdx.x) * vocab;
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int c = threadIdx.x; c < vocab; c += blockDim.x)
    if (better(row[c], c, bv, bi)) bv = row[c], bi = c;
  block_best(bv, bi);
  if (threadIdx.x == 0) tokens[blockIdx.x] = bi < vocab ? bi : 0;
}

// k passes of "best element after the previous one in (value desc, index asc) order" give the top k;
// thread 0 then applies temperature, top-p and draws.
__global__ void sample_kernel(const float* logits, const std::uint64_t* seeds, const std::int32_t* steps,
                              const float* temperature, const std::int32_t* top_k, const float* top_p,
                              std::int32_t* tokens, int vocab) {
  __shared__ float top_v[kMaxTopK];
  __shared__ int top_i[kMaxTopK];
  const int r = blockIdx.x;
  const float* row = logits + static_cast<size_t>(r) * vocab;
  const float temp = temperature[r];
  int k = top_k[r] <= 0 || top_k[r] > kMaxTopK ? kMaxTopK : top_k[r];
  if (temp <= 0.f) k = 1;
  if (k > vocab) k = vocab;
  float pv = INFINITY;
  int pi = -1;
  for (int j = 0; j < k; ++j) {
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int c = threadIdx.x; c < vocab; c += blockDim.x) {
      const float v = row[c];
      const bool after = v < pv || (v == pv && c > pi);
      if (after && better(v, c, bv, bi)) bv = v, bi = c;
    }
    block_best(bv, bi);
    if (threadIdx.x == 0) top_v[j] = bv, top_i[j] = bi;
    pv = bv;
    pi = bi;
  }
  if (threadIdx.x != 0) return;
  if (k == 1) {
    tokens[r] = top_i[0] < vocab ? top_i[0] : 0;
    return;
  }
  float total = 0.f;
  for (int j = 0; j < k; ++j) total += (top_v[j] = __expf((top_v[j] - top_v[0]) / temp));
  const float p = top_p[r] > 0.f && top_p[r] < 1.f ? top_p[r] : 1.f;
  float kept = 0.f;
  int n = 0;
  while (n < k && (n == 0 || kept < p * total)) kept += top_v[n++];
  const unsigned long long h = splitmix64(seeds[r] ^ splitmix64(static_cast<unsigned long long>(steps[r])));
  float u = static_cast<float>(h >> 40) * (1.f / 16777216.f) * kept;
  int pick = n - 1;
  for (int j = 0; j < n; ++j) {
    if (u < top_v[j]) {
      pick = j;
      break;
    }
    u -= top_v[j];
  }
  tokens[r] = top_i[pick] < vocab ? top_i[pick] : 0;
}

__global__ void fill_random_bf16_kernel(bf16_bits* out, long long n, float scale, unsigned long long seed) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const unsigned long long h = splitmix64(seed ^ splitmix64(static_cast<unsigned long long>(i)));
    const float u = static_cast<float>(h >> 40) * (1.f / 16777216.f);
    out[i] = bf16_bits_of((2.f * u - 1.f) * scale);
  }
}

__global__ void fill_f32_kernel(float* out, long long n, float value) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = value;
}

unsigned grid_for(long long n, int threads) {
  long long blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

Status launched() {
  CS_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace

Status embedding_launch(const bf16_bits* table, const std::int32_t* tokens, float* out, int rows, int hidden,
                        int vocab, CUstream_st* stream) {
  if (rows < 0 || hidden <= 0 || vocab <= 0) return invalid_argument("embedding: bad shape");
  if (rows == 0) return Status::ok();
  embedding_kernel<<<rows, 256, 0, stream>>>(table, tokens, out, hidden, vocab);
  return launched();
}

Status rmsnorm_f32_bf16_launch(const float* x, const float* weight, bf16_bits* y, int rows, int cols,
                               float eps, CUstream_st* stream) {
  if (rows < 0 || cols <= 0 || !(eps >= 0.f)) return invalid_argument("rmsnorm_bf16: bad shape or eps");
  if (rows == 0) return Status::ok();
  rmsnorm_bf16_kernel<<<rows, kNormThreads, 0, stream>>>(x, weight, y, cols, eps);
  return launched();
}

Status rope_launch(float* qkv, const std::int32_t* positions, const float* inv_freq, int rows, int heads,
                   int kv_heads, int head_dim, int rope_dim, CUstream_st* stream) {
  if (rows < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || rope_dim <= 0 || rope_dim > head_dim ||
      rope_dim % 2 != 0)
    return invalid_argument("rope: bad shape (rope_dim must be even and <= head_dim)");
  if (rows == 0) return Status::ok();
  rope_kernel<<<rows, 256, 0, stream>>>(qkv, positions, inv_freq, heads, kv_heads, head_dim, rope_dim);
  return launched();
}

Status kv_write_launch(const float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                       const std::int32_t* block_tables, int max_blocks, bf16_bits* k_cache,
                       bf16_bits* v_cache, int rows, int heads, int kv_heads, int head_dim, int block_size,
                       CUstream_st* stream) {
  if (rows < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || block_size <= 0 || max_blocks <= 0)
    return invalid_argument("kv_write: bad shape");
  if (rows == 0) return Status::ok();
  kv_write_kernel<<<rows, 256, 0, stream>>>(qkv, positions, seq_of_row, block_tables, max_blocks, k_cache,
                                            v_cache, heads, kv_heads, head_dim, block_size);
  return launched();
}

Status rope_kv_write_launch(float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                            const float* inv_freq, const std::int32_t* block_tables, int max_blocks,
                            bf16_bits* k_cache, bf16_bits* v_cache, int rows, int heads, int kv_heads, int head_dim,
                            int rope_dim, int block_size, CUstream_st* stream) {
  if (rows < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || rope_dim <= 0 || rope_dim > head_dim ||
      rope_dim % 2 != 0 || block_size <= 0 || max_blocks <= 0)
    return invalid_argument("rope_kv_write: bad shape (rope_dim must be even and <= head_dim)");
  if (rows == 0) return Status::ok();
  rope_kv_write_kernel<<<rows, 256, 0, stream>>>(qkv, positions, seq_of_row, inv_freq, block_tables, max_blocks,
                                                 k_cache, v_cache, heads, kv_heads, head_dim, rope_dim, block_size);
  return launched();
}

Status silu_mul_launch(const float* gate_up, bf16_bits* out, int rows, int ffn, CUstream_st* stream) {
  if (rows < 0 || ffn <= 0) return invalid_argument("silu_mul: bad shape");
  const long long n = static_cast<long long>(rows) * ffn;
  if (n == 0) return Status::ok();
  silu_mul_kernel<<<grid_for(n, 256), 256, 0, stream>>>(gate_up, out, ffn, n);
  return launched();
}

Status add_launch(float* x, const float* y, std::int64_t n, CUstream_st* stream) {
  if (n < 0) return invalid_argument("add: negative size");
  if (n == 0) return Status::ok();
  add_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n);
  return launched();
}

Status argmax_launch(const float* logits, std::int32_t* tokens, int rows, int vocab, CUstream_st* stream) {
  if (rows < 0 || vocab <= 0) return invalid_argument("argmax: bad shape");
  if (rows == 0) return Status::ok();
  argmax_kernel<<<rows, kArgmaxThreads, 0, stream>>>(logits, tokens, vocab);
  return launched();
}

Status sample_launch(const float* logits, const std::uint64_t* seeds, const std::int32_t* steps,
                     const float* temperature, const std::int32_t* top_k, const float* top_p,
                     std::int32_t* tokens, int rows, int vocab, CUstream_st* stream) {
  if (rows < 0 || vocab <= 0) return invalid_argument("sample: bad shape");
  if (rows == 0) return Status::ok();
  sample_kernel<<<rows, 256, 0, stream>>>(logits, seeds, steps, temperature, top_k, top_p, tokens, vocab);
  return launched();
}

Status fill_random_bf16_launch(bf16_bits* out, std::int64_t n, float scale, std::uint64_t seed,
                               CUstream_st* stream) {
  if (n < 0) return invalid_argument("fill_random_bf16: negative size");
  if (n == 0) return Status::ok();
  fill_random_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, scale, seed);
  return launched();
}

Status fill_f32_launch(float* out, std::int64_t n, float value, CUstream_st* stream) {
  if (n < 0) return invalid_argument("fill_f32: negative size");
  if (n == 0) return Status::ok();
  fill_f32_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, value);
  return launched();
}

}  // namespace chatscale::gpu
