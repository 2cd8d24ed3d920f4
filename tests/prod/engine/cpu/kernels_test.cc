// CPU kernels: row dequantisation equals tensor.h's dequantize exactly for every dtype (including row
// lengths that leave a tail for the vector path); dot and matmul agree with double-precision sums;
// matmul gives bit-identical results whatever the number of tokens or threads (row/token grouping,
// remainders of the 4-row x 3-token tile).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "prod/engine/cpu/kernels.h"
#include "prod/engine/cpu/sampler.h"

namespace chatscale::engine::cpu {
namespace {

struct Matrix {
  std::vector<std::uint8_t> bytes;
  TensorView view;
};

Matrix make_matrix(DType t, std::int64_t in, std::int64_t out, std::uint64_t seed) {
  Rng64 rng(seed);
  Matrix m;
  m.bytes.resize(static_cast<std::size_t>(dtype_bytes(t, in * out)));
  std::vector<float> row(static_cast<std::size_t>(in));
  for (std::int64_t r = 0; r < out; ++r) {
    for (float& x : row) x = static_cast<float>(rng.uniform() * 2 - 1);
    std::uint8_t* dst = m.bytes.data() + dtype_bytes(t, in) * r;
    for (std::int64_t i = 0; i < in; ++i) {
      const float f = row[static_cast<std::size_t>(i)];
      const std::uint16_t h = t == DType::kF16 ? f32_to_f16(f) : f32_to_bf16(f);
      if (t == DType::kF32) std::memcpy(dst + 4 * i, &f, 4);
      if (t == DType::kF16 || t == DType::kBF16) std::memcpy(dst + 2 * i, &h, 2);
    }
    for (std::int64_t b = 0; t == DType::kQ8_0 && b < in / kQ8BlockSize; ++b) {
      const BlockQ8_0 q = quantize_q8_0(&row[static_cast<std::size_t>(b * kQ8BlockSize)]);
      std::memcpy(dst + b * 34, &q, 34);
    }
  }
  m.view = TensorView{.dtype = t, .n_dims = 2, .dims = {in, out, 1, 1}, .data = m.bytes.data()};
  return m;
}

TEST(CpuKernelsTest, PlainPathWhenAsked) {
  // ctest runs this binary a second time with CHATSCALE_CPU_NO_AVX2=1 (the plain C++ kernels).
  if (std::getenv("CHATSCALE_CPU_NO_AVX2") != nullptr) {
    EXPECT_FALSE(simd_enabled());
  }
  std::printf("AVX2 path: %s\n", simd_enabled() ? "on" : "off");
}

TEST(ThreadPoolTest, EachIndexOnceInContiguousChunks) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (std::int64_t n = 0; n < 12; ++n) {
      std::vector<int> seen(static_cast<std::size_t>(n), 0);
      std::vector<int> worker_of(static_cast<std::size_t>(n), -1);
      pool.parallel_for(n, [&](std::int64_t b, std::int64_t e, int worker) {
        EXPECT_LT(worker, threads);
        for (std::int64_t i = b; i < e; ++i) {
          ++seen[static_cast<std::size_t>(i)];
          worker_of[static_cast<std::size_t>(i)] = worker;
        }
      });
      EXPECT_EQ(seen, std::vector<int>(static_cast<std::size_t>(n), 1)) << threads << " threads, n " << n;
      EXPECT_TRUE(std::is_sorted(worker_of.begin(), worker_of.end()));
    }
  }
  EXPECT_EQ(ThreadPool(0).size(), 1);
}

TEST(CpuKernelsTest, DequantizeRowIsExact) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const std::int64_t in = t == DType::kQ8_0 ? 96 : 37;
    const Matrix m = make_matrix(t, in, 3, 1);
    std::vector<float> got(static_cast<std::size_t>(in)), want(got.size());
    for (std::int64_t r = 0; r < 3; ++r) {
      dequantize_row(m.view, r, got.data());
      dequantize(t, m.view.row(r), want.data(), in);
      EXPECT_EQ(got, want) << dtype_name(t) << " row " << r;
    }
  }
}

TEST(CpuKernelsTest, DotMatchesDoubleSum) {
  Rng64 rng(2);
  for (std::int64_t n = 0; n < 70; ++n) {
    std::vector<float> a(static_cast<std::size_t>(n)), b(a.size());
    double want = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<float>(rng.uniform() * 2 - 1);
      b[i] = static_cast<float>(rng.uniform() * 2 - 1);
      want += static_cast<double>(a[i]) * b[i];
    }
    EXPECT_NEAR(dot(a.data(), b.data(), n), want, 1e-5) << n;
  }
}

TEST(CpuKernelsTest, MatmulMatchesNaiveAndIsGroupingInvariant) {
  ThreadPool one(1), three(3);
  std::vector<std::vector<float>> scratch;
  for (DType t : {DType::kF32, DType::kQ8_0}) {
    const std::int64_t in = 64, out = 9, tokens = 7;
    const Matrix m = make_matrix(t, in, out, 3);
    Rng64 rng(4);
    std::vector<float> x(static_cast<std::size_t>(in * tokens));
    for (float& v : x) v = static_cast<float>(rng.uniform() * 2 - 1);
    std::vector<float> all(static_cast<std::size_t>(out * tokens)), threaded(all.size());
    matmul(m.view, x.data(), in, tokens, all.data(), out, one, scratch);
    matmul(m.view, x.data(), in, tokens, threaded.data(), out, three, scratch);
    EXPECT_EQ(all, threaded) << dtype_name(t);
    std::vector<float> w(static_cast<std::size_t>(in));
    for (std::int64_t k = 0; k < tokens; ++k) {
      std::vector<float> single(static_cast<std::size_t>(out));
      matmul(m.view, x.data() + k * in, in, 1, single.data(), out, one, scratch);
      for (std::int64_t r = 0; r < out; ++r) {
        EXPECT_EQ(single[static_cast<std::size_t>(r)], all[static_cast<std::size_t>(k * out + r)]) << k << "," << r;
        dequantize(t, m.view.row(r), w.data(), in);
        double want = 0;
        for (std::int64_t i = 0; i < in; ++i) want += static_cast<double>(w[static_cast<std::size_t>(i)]) * x[static_cast<std::size_t>(k * in + i)];
        EXPECT_NEAR(all[static_cast<std::size_t>(k * out + r)], want, 1e-4);
      }
    }
  }
}

}  // namespace
}  // namespace chatscale::engine::cpu
