#include "prod/engine/cpu/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace chatscale::engine::cpu {
namespace {

constexpr int kTileRows = 4;  // weight rows dequantised and multiplied together

// ---- plain C++ ------------------------------------------------------------------------------------

float dot_plain(const float* a, const float* b, std::int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// ---- AVX2 / FMA / F16C ----------------------------------------------------------------------------

#if defined(__x86_64__) && defined(__GNUC__)
#define CS_HAVE_X86_SIMD 1

__attribute__((target("avx2,fma,f16c"))) inline float hsum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);                 // (0+4, 1+5, 2+6, 3+7)
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));        // (0+4)+(2+6), (1+5)+(3+7)
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) float dot_avx2(const float* a, const float* b, std::int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_avx2(DType t, const void* src, float* dst,
                                                               std::int64_t n) {
  std::int64_t i = 0;
  if (t == DType::kF16) {
    const auto* s = static_cast<const std::uint16_t*>(src);
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else if (t == DType::kBF16) {
    const auto* s = static_cast<const std::uint16_t*>(src);
    for (; i + 8 <= n; i += 8) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
  } else if (t == DType::kQ8_0) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (std::int64_t k = 0; k < n / kQ8BlockSize; ++k) {
      const __m256 d = _mm256_set1_ps(f16_to_f32(b[k].d));
      for (int j = 0; j < kQ8BlockSize; j += 8) {
        const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[k].qs + j));
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
        _mm256_storeu_ps(dst + k * kQ8BlockSize + j, _mm256_mul_ps(d, f));
      }
    }
  } else {
    dequantize(t, src, dst, n);
  }
}

// Four rows against three tokens: 12 accumulators, 7 loads per 12 FMAs.
__attribute__((target("avx2,fma,f16c"))) void tile_4x3_avx2(const float* const* rows, std::int64_t in,
                                                              const float* x, std::int64_t xs, float* out,
                                                              std::int64_t os) {
  const std::int64_t vec_end = in / 8 * 8;
  __m256 acc[3][kTileRows];
  for (auto& a : acc) {
    for (auto& v : a) v = _mm256_setzero_ps();
  }
  for (std::int64_t i = 0; i < vec_end; i += 8) {
    const __m256 w0 = _mm256_loadu_ps(rows[0] + i), w1 = _mm256_loadu_ps(rows[1] + i),
                 w2 = _mm256_loadu_ps(rows[2] + i), w3 = _mm256_loadu_ps(rows[3] + i);
    for (int t = 0; t < 3; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * xs + i);
      acc[t][0] = _mm256_fmadd_ps(w0, xv, acc[t][0]);
      acc[t][1] = _mm256_fmadd_ps(w1, xv, acc[t][1]);
      acc[t][2] = _mm256_fmadd_ps(w2, xv, acc[t][2]);
      acc[t][3] = _mm256_fmadd_ps(w3, xv, acc[t][3]);
    }
  }
  for (int t = 0; t < 3; ++t) {
    for (int r = 0; r < kTileRows; ++r) {
      float s = hsum(acc[t][r]);
      for (std::int64_t i = vec_end; i < in; ++i) s += rows[r][i] * x[t * xs + i];
      out[t * os + r] = s;
    }
  }
}

// out[t * os + r] for rows[0..nr) against tokens; one accumulator per (row, token), each with the
// same sequence of operations as dot_avx2, so the grouping never changes a result.
__attribute__((target("avx2,fma,f16c"))) void tile_avx2(const float* const* rows, int nr, std::int64_t in,
                                                         const float* x, std::int64_t xs, std::int64_t tokens,
                                                         float* out, std::int64_t os) {
  std::int64_t t = 0;
  if (nr == kTileRows) {
    for (; t + 3 <= tokens; t += 3) tile_4x3_avx2(rows, in, x + t * xs, xs, out + t * os, os);
  }
  for (; t < tokens; ++t) {
    for (int r = 0; r < nr; ++r) out[t * os + r] = dot_avx2(rows[r], x + t * xs, in);
  }
}
// Few tokens against quantised rows, converting in registers instead of through a buffer. Each
// weight element is formed exactly as dequantize_avx2 forms it (cvtph, bf16 shift, or d * q) and
// enters the same FMA chain as dot_avx2, so results equal the buffered path bit for bit.
template <int kTokens>
__attribute__((target("avx2,fma,f16c"))) void fused_rows_avx2(const TensorView& w, std::int64_t r0,
                                                               std::int64_t r1, const float* x, std::int64_t xs,
                                                               float* out, std::int64_t os) {
  const std::int64_t in = w.cols();
  for (std::int64_t r = r0; r < r1; ++r) {
    __m256 acc[kTokens];
    for (auto& a : acc) a = _mm256_setzero_ps();
    if (w.dtype == DType::kQ8_0) {
      const auto* b = static_cast<const BlockQ8_0*>(w.row(r));
      for (std::int64_t k = 0; k < in / kQ8BlockSize; ++k) {
        const __m256 d = _mm256_set1_ps(f16_to_f32(b[k].d));
        for (int j = 0; j < kQ8BlockSize; j += 8) {
          const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[k].qs + j));
          const __m256 wv = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
          const std::int64_t i = k * kQ8BlockSize + j;
          for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * xs + i), acc[t]);
        }
      }
    } else {
      const auto* h = static_cast<const std::uint16_t*>(w.row(r));
      for (std::int64_t i = 0; i < in; i += 8) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
        const __m256 wv = w.dtype == DType::kF16
                              ? _mm256_cvtph_ps(v)
                              : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
        for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * xs + i), acc[t]);
      }
    }
    for (int t = 0; t < kTokens; ++t) out[t * os + r] = hsum(acc[t]);
  }
}

__attribute__((target("avx2,fma,f16c"))) void attn_scores_avx2(const float* q, std::int64_t group, std::int64_t hd,
                                                                const float* k, std::int64_t k_stride,
                                                                std::int64_t count, float scale, float* sc,
                                                                std::int64_t sc_stride) {
  for (std::int64_t p = 0; p < count; ++p) {
    for (std::int64_t j = 0; j < group; ++j) sc[j * sc_stride + p] = dot_avx2(q + j * hd, k + p * k_stride, hd) * scale;
  }
}

__attribute__((target("avx2,fma,f16c"))) void attn_accumulate_avx2(const float* w, std::int64_t w_stride,
                                                                    std::int64_t group, const float* v,
                                                                    std::int64_t v_stride, std::int64_t count,
                                                                    float* o, std::int64_t hd) {
  const std::int64_t vec_end = hd / 8 * 8;
  for (std::int64_t j = 0; j < group; ++j) {
    const float* wj = w + j * w_stride;
    float* oj = o + j * hd;
    for (std::int64_t d = 0; d < vec_end; d += 8) {
      __m256 acc = _mm256_loadu_ps(oj + d);
      for (std::int64_t p = 0; p < count; ++p) {
        acc = _mm256_fmadd_ps(_mm256_set1_ps(wj[p]), _mm256_loadu_ps(v + p * v_stride + d), acc);
      }
      _mm256_storeu_ps(oj + d, acc);
    }
    for (std::int64_t d = vec_end; d < hd; ++d) {
      for (std::int64_t p = 0; p < count; ++p) oj[d] += wj[p] * v[p * v_stride + d];
    }
  }
}

// True when fused_rows_avx2 handled the rows: F16/BF16/Q8_0 rows (a whole number of 8-element
// chunks) against one or two tokens.
bool fused_rows(const TensorView& w, std::int64_t r0, std::int64_t r1, const float* x, std::int64_t xs,
                std::int64_t tokens, float* out, std::int64_t os) {
  if (w.dtype == DType::kF32 || w.cols() % 8 != 0 || tokens > 2 || !simd_enabled()) return false;
  if (tokens == 1) fused_rows_avx2<1>(w, r0, r1, x, xs, out, os);
  if (tokens == 2) fused_rows_avx2<2>(w, r0, r1, x, xs, out, os);
  return true;
}
#endif

void tile_plain(const float* const* rows, int nr, std::int64_t in, const float* x, std::int64_t xs,
                std::int64_t tokens, float* out, std::int64_t os) {
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (int r = 0; r < nr; ++r) out[t * os + r] = dot_plain(rows[r], x + t * xs, in);
  }
}

bool detect_simd() {
#ifdef CS_HAVE_X86_SIMD
  if (std::getenv("CHATSCALE_CPU_NO_AVX2") != nullptr) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

void tile(const float* const* rows, int nr, std::int64_t in, const float* x, std::int64_t xs,
          std::int64_t tokens, float* out, std::int64_t os) {
#ifdef CS_HAVE_X86_SIMD
  if (simd_enabled()) return tile_avx2(rows, nr, in, x, xs, tokens, out, os);
#endif
  tile_plain(rows, nr, in, x, xs, tokens, out, os);
}

// Token blocking: a block of tokens' activations stays in cache while a tile of rows sweeps it.
constexpr std::int64_t kTokenBlock = 64;

void matmul_rows(const TensorView& w, const float* x, std::int64_t xs, std::int64_t tokens, float* out,
                 std::int64_t os, std::int64_t begin, std::int64_t end, std::vector<float>& buf) {
#ifdef CS_HAVE_X86_SIMD
  if (fused_rows(w, begin, end, x, xs, tokens, out, os)) return;
#endif
  const std::int64_t in = w.cols();
  const bool direct = w.dtype == DType::kF32;
  if (!direct) buf.resize(static_cast<std::size_t>(in * kTileRows));
  for (std::int64_t r0 = begin; r0 < end; r0 += kTileRows) {
    const int nr = static_cast<int>(std::min<std::int64_t>(kTileRows, end - r0));
    const float* rows[kTileRows] = {nullptr, nullptr, nullptr, nullptr};
    for (int r = 0; r < nr; ++r) {
      if (direct) {
        rows[r] = static_cast<const float*>(w.row(r0 + r));
      } else {
        dequantize_row(w, r0 + r, buf.data() + r * in);
        rows[r] = buf.data() + r * in;
      }
    }
    for (std::int64_t t0 = 0; t0 < tokens; t0 += kTokenBlock) {
      const std::int64_t nt = std::min(kTokenBlock, tokens - t0);
      tile(rows, nr, in, x + t0 * xs, xs, nt, out + t0 * os + r0, os);
    }
  }
}

}  // namespace

bool simd_enabled() {
  static const bool enabled = detect_simd();
  return enabled;
}

void dequantize_row(const TensorView& w, std::int64_t r, float* dst) {
#ifdef CS_HAVE_X86_SIMD
  if (simd_enabled()) return dequantize_avx2(w.dtype, w.row(r), dst, w.cols());
#endif
  dequantize(w.dtype, w.row(r), dst, w.cols());
}

float dot(const float* a, const float* b, std::int64_t n) {
#ifdef CS_HAVE_X86_SIMD
  if (simd_enabled()) return dot_avx2(a, b, n);
#endif
  return dot_plain(a, b, n);
}

void matmul(const TensorView& w, const float* x, std::int64_t x_stride, std::int64_t tokens, float* out,
            std::int64_t out_stride, ThreadPool& pool, std::vector<std::vector<float>>& scratch) {
  const MatmulJob job{&w, out, out_stride};
  matmul_multi(std::span(&job, 1), x, x_stride, tokens, pool, scratch);
}

void matmul_multi(std::span<const MatmulJob> jobs, const float* x, std::int64_t x_stride, std::int64_t tokens,
                  ThreadPool& pool, std::vector<std::vector<float>>& scratch) {
  scratch.resize(static_cast<std::size_t>(pool.size()));
  // One index space of whole row tiles over all jobs, so each thread's rows start on a tile boundary.
  std::vector<std::int64_t> first_tile(jobs.size() + 1, 0);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    first_tile[j + 1] = first_tile[j] + (jobs[j].w->rows() + kTileRows - 1) / kTileRows;
  }
  pool.parallel_for(first_tile.back(), [&](std::int64_t b, std::int64_t e, int worker) {
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      const std::int64_t lo = std::max(b, first_tile[j]) - first_tile[j];
      const std::int64_t hi = std::min(e, first_tile[j + 1]) - first_tile[j];
      if (lo >= hi) continue;
      const TensorView& w = *jobs[j].w;
      matmul_rows(w, x, x_stride, tokens, jobs[j].out, jobs[j].out_stride, lo * kTileRows,
                  std::min(hi * kTileRows, w.rows()), scratch[static_cast<std::size_t>(worker)]);
    }
  });
}

void attn_scores(const float* q, std::int64_t group, std::int64_t hd, const float* k, std::int64_t k_stride,
                 std::int64_t count, float scale, float* sc, std::int64_t sc_stride) {
#ifdef CS_HAVE_X86_SIMD
  if (simd_enabled()) return attn_scores_avx2(q, group, hd, k, k_stride, count, scale, sc, sc_stride);
#endif
  for (std::int64_t p = 0; p < count; ++p) {
    for (std::int64_t j = 0; j < group; ++j) sc[j * sc_stride + p] = dot_plain(q + j * hd, k + p * k_stride, hd) * scale;
  }
}

void attn_accumulate(const float* w, std::int64_t w_stride, std::int64_t group, const float* v, std::int64_t v_stride,
                     std::int64_t count, float* o, std::int64_t hd) {
#ifdef CS_HAVE_X86_SIMD
  if (simd_enabled()) return attn_accumulate_avx2(w, w_stride, group, v, v_stride, count, o, hd);
#endif
  for (std::int64_t j = 0; j < group; ++j) {
    for (std::int64_t p = 0; p < count; ++p) {
      for (std::int64_t d = 0; d < hd; ++d) o[j * hd + d] += w[j * w_stride + p] * v[p * v_stride + d];
    }
  }
}

void rmsnorm(const float* x, const float* weight, std::int64_t n, float eps, float* y) {
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

}  // namespace chatscale::engine::cpu
