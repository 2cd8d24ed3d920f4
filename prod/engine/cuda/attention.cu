// Paged attention, split-K (see kernels.h). Block (split s, kv head, row r) scores the query heads of
// one GQA group against positions [s * kAttnChunk, ...) of row r's context, keeps exp(score - max)
// and writes the unnormalised output with its max and sum; a second kernel combines the splits.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "prod/engine/cuda/block_reduce.cuh"
#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/kernels.h"

namespace chatscale::gpu {
namespace {

constexpr int kAttnThreads = 128;
constexpr int kMaxHeadDim = 256;

__device__ __forceinline__ float2 load_bf16x2(const bf16_bits* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

struct AttnArgs {
  const float* qkv;
  const std::int32_t* positions;
  const std::int32_t* seq_of_row;
  const std::int32_t* block_tables;
  int max_blocks;
  const bf16_bits* k_cache;
  const bf16_bits* v_cache;
  float* partial;  // [row][head][split][head_dim + 2]: acc, max, sum
  int heads, kv_heads, head_dim, block_size, splits;
  float scale;
};

__device__ __forceinline__ size_t cache_offset(const AttnArgs& a, const std::int32_t* table, int kvh, int pos) {
  const int block = table[pos / a.block_size];
  return ((static_cast<size_t>(block) * a.kv_heads + kvh) * a.block_size + pos % a.block_size) * a.head_dim;
}

__global__ void attn_split_kernel(AttnArgs a) {
  extern __shared__ float smem[];
  const int s = blockIdx.x, kvh = blockIdx.y, r = blockIdx.z;
  const int group = a.heads / a.kv_heads;
  const int hd = a.head_dim;
  const int start = s * kAttnChunk;
  const int n = min(kAttnChunk, a.positions[r] + 1 - start);
  if (n <= 0) return;  // the combine kernel reads only the splits the context covers
  float* q = smem;                   // [group][hd], pre-scaled
  float* sc = smem + group * hd;     // [group][kAttnChunk]
  const int qkv_dim = (a.heads + 2 * a.kv_heads) * hd;
  const float* q_src = a.qkv + static_cast<size_t>(r) * qkv_dim + static_cast<size_t>(kvh) * group * hd;
  for (int i = threadIdx.x; i < group * hd; i += blockDim.x) q[i] = q_src[i] * a.scale;
  __syncthreads();

  const std::int32_t* table = a.block_tables + static_cast<size_t>(a.seq_of_row[r]) * a.max_blocks;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int pairs = hd / 2;
#pragma unroll 4
  for (int p = warp; p < n; p += warps) {
    const bf16_bits* k = a.k_cache + cache_offset(a, table, kvh, start + p);
    float2 kv[kMaxHeadDim / 64];
#pragma unroll
    for (int j = 0; j < kMaxHeadDim / 64; ++j) {
      const int d2 = lane + 32 * j;
      kv[j] = d2 < pairs ? load_bf16x2(k + 2 * d2) : make_float2(0.f, 0.f);
    }
    for (int g = 0; g < group; ++g) {
      float part = 0.f;
#pragma unroll
      for (int j = 0; j < kMaxHeadDim / 64; ++j) {
        const int d2 = lane + 32 * j;
        if (d2 < pairs) part += q[g * hd + 2 * d2] * kv[j].x + q[g * hd + 2 * d2 + 1] * kv[j].y;
      }
      part = warp_sum(part);
      if (lane == 0) sc[g * kAttnChunk + p] = part;
    }
  }
  __syncthreads();

  const size_t stride = static_cast<size_t>(hd) + 2;
  float* part_base = a.partial + (static_cast<size_t>(r) * a.heads + static_cast<size_t>(kvh) * group) *
                                     a.splits * stride + static_cast<size_t>(s) * stride;
  for (int g = warp; g < group; g += warps) {
    float m = -INFINITY;
    for (int p = lane; p < n; p += 32) m = fmaxf(m, sc[g * kAttnChunk + p]);
    m = warp_max(m);
    float l = 0.f;
    for (int p = lane; p < n; p += 32) {
      const float e = __expf(sc[g * kAttnChunk + p] - m);
      sc[g * kAttnChunk + p] = e;
      l += e;
    }
    l = warp_sum(l);
    if (lane == 0) {
      float* out = part_base + static_cast<size_t>(g) * a.splits * stride;
      out[hd] = m;
      out[hd + 1] = l;
    }
  }
  __syncthreads();

  for (int item = threadIdx.x; item < group * pairs; item += blockDim.x) {
    const int g = item / pairs, d2 = item % pairs;
    float ax = 0.f, ay = 0.f;
#pragma unroll 8  // independent loads in flight (the loop is latency-bound otherwise)
    for (int p = 0; p < n; ++p) {
      const float2 v = load_bf16x2(a.v_cache + cache_offset(a, table, kvh, start + p) + 2 * d2);
      const float w = sc[g * kAttnChunk + p];
      ax += w * v.x;
      ay += w * v.y;
    }
    float* out = part_base + static_cast<size_t>(g) * a.splits * stride;
    out[2 * d2] = ax;
    out[2 * d2 + 1] = ay;
  }
}

// Block (head, row); thread d combines element d over the splits the row's context covers.
__global__ void attn_combine_kernel(const float* partial, const std::int32_t* positions, bf16_bits* out,
                                    int heads, int head_dim, int splits) {
  const int h = blockIdx.x, r = blockIdx.y;
  const int used = (positions[r] + 1 + kAttnChunk - 1) / kAttnChunk;
  const size_t stride = static_cast<size_t>(head_dim) + 2;
  const float* base = partial + (static_cast<size_t>(r) * heads + h) * splits * stride;
  float m = -INFINITY;
  for (int s = 0; s < used; ++s) m = fmaxf(m, base[s * stride + head_dim]);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float l = 0.f, o = 0.f;
    for (int s = 0; s < used; ++s) {
      const float w = __expf(base[s * stride + head_dim] - m);
      l += w * base[s * stride + head_dim + 1];
      o += w * base[s * stride + d];
    }
    __nv_bfloat16 v = __float2bfloat16_rn(l > 0.f ? o / l : 0.f);
    out[(static_cast<size_t>(r) * heads + h) * head_dim + d] = *reinterpret_cast<bf16_bits*>(&v);
  }
}

int splits_for(int max_context) { return (max_context + kAttnChunk - 1) / kAttnChunk; }

}  // namespace

std::int64_t attention_partial_floats(int rows, int heads, int head_dim, int max_context) {
  return static_cast<std::int64_t>(rows) * heads * splits_for(max_context) * (head_dim + 2);
}

Status attention_launch(const float* qkv, const std::int32_t* positions, const std::int32_t* seq_of_row,
                        const std::int32_t* block_tables, int max_blocks, const bf16_bits* k_cache,
                        const bf16_bits* v_cache, float* partial, bf16_bits* out, int rows, int heads,
                        int kv_heads, int head_dim, int block_size, int max_context, CUstream_st* stream) {
  if (rows < 0 || heads <= 0 || kv_heads <= 0 || heads % kv_heads != 0 || head_dim <= 0 || head_dim % 2 != 0 ||
      head_dim > kMaxHeadDim || block_size <= 0 || max_context <= 0 || max_blocks * block_size < max_context)
    return invalid_argument(
        "attention: heads must be a multiple of kv_heads, head_dim even and <= 256, max_context > 0 and "
        "covered by max_blocks * block_size");
  const int group = heads / kv_heads;
  const size_t smem = static_cast<size_t>(group) * (head_dim + kAttnChunk) * sizeof(float);
  if (smem > 48 * 1024) return invalid_argument("attention: heads per kv head too many for shared memory");
  if (rows == 0) return Status::ok();
  AttnArgs a{qkv,     positions, seq_of_row, block_tables, max_blocks, k_cache,  v_cache,
             partial, heads,     kv_heads,   head_dim,     block_size, splits_for(max_context),
             1.f / sqrtf(static_cast<float>(head_dim))};
  attn_split_kernel<<<dim3(a.splits, kv_heads, rows), kAttnThreads, smem, stream>>>(a);
  CS_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  attn_combine_kernel<<<dim3(heads, rows), head_dim < 128 ? head_dim : 128, 0, stream>>>(
      partial, positions, out, heads, head_dim, a.splits);
  CS_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace chatscale::gpu
