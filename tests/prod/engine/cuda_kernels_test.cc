// The CUDA kernels against their CPU references (STYLE.md 9). Without a usable GPU every test skips
// and says why. Tolerances:
//   RMSNorm: |gpu - ref| <= 1e-6 + 1e-5 |ref| per element (f32 reduction over 4096 columns vs double).
//   GEMM:    |gpu - ref| <= 1e-6 + 2 k eps_f32 sum_k |a b| (the classic f32 dot-product error bound).
// The decoder kernels and CudaModel run the shared checks of prod/engine/cuda/cuda_checks.h (their
// tolerances are listed there; the standalone cuda_check runs the same ones). The launchers'
// shape validation and the RoPE frequencies are checked without a GPU.
#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "prod/engine/cuda/cuda_checks.h"
#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_model.h"
#include "prod/engine/cuda/kernels.h"
#include "prod/engine/cuda/matmul.h"
#include "prod/engine/cuda/reference.h"
#include "prod/engine/cuda/rmsnorm.h"

namespace chatscale::gpu {
namespace {

std::vector<float> random_vector(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

#define SKIP_WITHOUT_GPU()                                                                 \
  do {                                                                                     \
    auto devices = cuda_devices();                                                         \
    if (!devices.is_ok()) GTEST_SKIP() << "no usable GPU: " << devices.status().message(); \
  } while (0)

TEST(CudaDevicesTest, ReportsDevicesOrAnUnavailableStatus) {
  auto devices = cuda_devices();
  if (!devices.is_ok()) {
    EXPECT_EQ(devices.status().code(), StatusCode::kUnavailable) << devices.status().to_string();
    GTEST_SKIP() << "no usable GPU: " << devices.status().message();
  }
  ASSERT_FALSE(devices->empty());
  for (const auto& d : *devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.total_memory_bytes, 0u);
    EXPECT_GT(d.sm_count, 0);
    EXPECT_GE(d.compute_capability_major, 7);
    std::printf("device %d: %s, %.1f GiB, %d SMs, sm_%d%d\n", d.index, d.name.c_str(),
                d.total_memory_bytes / double(1u << 30), d.sm_count, d.compute_capability_major,
                d.compute_capability_minor);
  }
}

TEST(RmsNormTest, MatchesTheCpuReference) {
  SKIP_WITHOUT_GPU();
  const int rows = 64;
  const int cols = 4096;
  auto x = random_vector(size_t(rows) * cols, 1, -4.f, 4.f);
  auto w = random_vector(cols, 2, 0.5f, 1.5f);
  auto got = rmsnorm_f32(x, w, rows, cols, 1e-6f);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  auto want = rmsnorm_reference(x, w, rows, cols, 1e-6f);
  EXPECT_LE(worst_error_ratio(*got, want, 1e-6, 1e-5), 1.0);
}

TEST(RmsNormTest, OddShapesMatchTheCpuReference) {
  SKIP_WITHOUT_GPU();
  for (int cols : {1, 31, 257, 1000}) {
    const int rows = 3;
    auto x = random_vector(size_t(rows) * cols, 3 + cols, -1.f, 1.f);
    auto w = random_vector(cols, 4 + cols, -2.f, 2.f);
    auto got = rmsnorm_f32(x, w, rows, cols, 1e-5f);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_LE(worst_error_ratio(*got, rmsnorm_reference(x, w, rows, cols, 1e-5f), 1e-6, 1e-5), 1.0) << cols;
  }
}

TEST(RmsNormTest, BadShapesAreInvalidArguments) {
  std::vector<float> x(6, 1.f);
  std::vector<float> w(3, 1.f);
  EXPECT_EQ(rmsnorm_f32(x, w, 3, 3, 1e-6f).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rmsnorm_f32(x, w, 2, 0, 1e-6f).status().code(), StatusCode::kInvalidArgument);
}

TEST(MatmulTest, CublasMatchesTheCpuReference) {
  SKIP_WITHOUT_GPU();
  const int m = 96;
  const int k = 256;
  const int n = 80;
  auto a = random_vector(size_t(m) * k, 5, -1.f, 1.f);
  auto b = random_vector(size_t(k) * n, 6, -1.f, 1.f);
  auto got = matmul_f32(a, b, m, k, n);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  auto want = matmul_reference(a, b, m, k, n);
  auto scale = matmul_abs_reference(a, b, m, k, n);
  EXPECT_LE(worst_error_ratio(*got, want, 1e-6, 2.0 * k * FLT_EPSILON, scale), 1.0);
}

TEST(ReferenceTest, ReferencesComputeKnownValues) {
  // rows of (3, 4): rms = sqrt(12.5); weight (1, 2).
  auto y = rmsnorm_reference(std::vector<float>{3, 4, 0, 0}, std::vector<float>{1, 2}, 2, 2, 0.f);
  EXPECT_NEAR(y[0], 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(y[1], 8 / std::sqrt(12.5), 1e-6);
  EXPECT_TRUE(std::isnan(y[2]));  // 0/0 with eps 0
  auto c = matmul_reference(std::vector<float>{1, 2, 3, 4}, std::vector<float>{5, 6, 7, 8}, 2, 2, 2);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
  EXPECT_GT(worst_error_ratio(std::vector<float>{1.1f}, std::vector<float>{1.f}, 0, 0.05), 1.0);
  EXPECT_LE(worst_error_ratio(std::vector<float>{1.01f}, std::vector<float>{1.f}, 0, 0.05), 1.0);
}

TEST(DecoderChecksTest, EveryKernelAndCudaModelMatchTheCpuReferences) {
  SKIP_WITHOUT_GPU();
  for (const auto& check : all_cuda_checks()) {
    CheckResult r = check.run();
    EXPECT_TRUE(r.ok) << check.name << ": " << r.detail;
  }
}

TEST(DecoderKernelsTest, BadShapesAreInvalidArgumentsBeforeAnyLaunch) {
  EXPECT_EQ(attention_launch(nullptr, nullptr, nullptr, nullptr, 4, nullptr, nullptr, nullptr, nullptr, 1, 6, 4,
                             64, 16, 64, nullptr)
                .code(),
            StatusCode::kInvalidArgument);  // 6 heads over 4 kv heads
  EXPECT_EQ(attention_launch(nullptr, nullptr, nullptr, nullptr, 2, nullptr, nullptr, nullptr, nullptr, 1, 8, 2,
                             64, 16, 64, nullptr)
                .code(),
            StatusCode::kInvalidArgument);  // 2 blocks of 16 cannot hold 64 positions
  EXPECT_EQ(rope_launch(nullptr, nullptr, nullptr, 1, 4, 2, 16, 15, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rmsnorm_f32_bf16_launch(nullptr, nullptr, nullptr, 1, 0, 1e-5f, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(argmax_launch(nullptr, nullptr, 1, 0, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(silu_mul_launch(nullptr, nullptr, 0, 8, nullptr).is_ok());  // nothing to do
}

TEST(CudaModelTest, BadConfigIsAnInvalidArgumentWithoutTouchingTheDevice) {
  engine::LlamaConfig c;
  c.vocab = 10, c.hidden = 8, c.layers = 1, c.heads = 3, c.kv_heads = 2, c.head_dim = 4, c.ffn = 8, c.rope_dim = 4;
  auto model = CudaModel::create_random(c, CudaModelOptions{}, 1);
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
}

TEST(RopeFrequenciesTest, PlainScaledAndFactorFrequencies) {
  engine::LlamaConfig c;
  c.head_dim = 8, c.rope_dim = 8, c.rope_theta = 10000.f;
  auto plain = rope_inv_freq(c, {});
  ASSERT_EQ(plain.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(plain[size_t(i)], std::pow(10000.0, -2.0 * i / 8), 1e-7);
  auto factors = rope_inv_freq(c, {1.f, 2.f, 4.f, 8.f});
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(factors[size_t(i)], plain[size_t(i)] / (1 << i), 1e-7);
  // Llama-3 scaling with original context 64: wavelength 2 pi (pair 0) < 64/4 keeps its frequency,
  // pair 3 (wavelength 2 pi 10^3 > 64) is divided by the factor 8.
  c.rope_scaling = engine::RopeScaling::kLlama3, c.rope_original_context = 64;
  auto scaled = rope_inv_freq(c, {});
  EXPECT_FLOAT_EQ(scaled[0], plain[0]);
  EXPECT_NEAR(scaled[3], plain[3] / 8, 1e-9);
}

}  // namespace
}  // namespace chatscale::gpu
