// RoPE: a rotation by a hand-computed angle; inverse frequencies without scaling; Llama-3 factors at
// a few indices against the formula written out here; rope_freqs tensor factors; bad rope_dim.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "prod/engine/cpu/rope.h"

namespace chatscale::engine::cpu {
namespace {

LlamaConfig config(std::int64_t head_dim, float theta) {
  LlamaConfig c;
  c.head_dim = head_dim;
  c.rope_dim = head_dim;
  c.rope_theta = theta;
  return c;
}

TEST(RopeTest, RotatesAdjacentPairsByPosTimesInvFreq) {
  auto inv = rope_inv_freqs(config(4, 10000.0f), LlamaWeights{});
  ASSERT_TRUE(inv.is_ok());
  ASSERT_EQ(inv->size(), 2u);
  EXPECT_FLOAT_EQ((*inv)[0], 1.0f);
  EXPECT_FLOAT_EQ((*inv)[1], 0.01f);  // 10000^(-2/4)
  std::vector<float> cs(4);
  rope_cos_sin(2, *inv, cs.data());
  // Two heads: (1, 0, 0, 1) and (0, 2, 3, 0). Pair 0 turns by 2 rad, pair 1 by 0.02 rad.
  std::vector<float> x = {1, 0, 0, 1, 0, 2, 3, 0};
  apply_rope(x.data(), 2, 4, cs.data(), 2);
  const double c2 = std::cos(2.0), s2 = std::sin(2.0), c02 = std::cos(0.02), s02 = std::sin(0.02);
  const std::vector<double> want = {c2, s2, -s02, c02, -2 * s2, 2 * c2, 3 * c02, 3 * s02};
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], 1e-6) << i;
}

TEST(RopeTest, Llama3FactorsMatchTheFormula) {
  LlamaConfig c = config(64, 500000.0f);
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 32.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_original_context = 8192;
  auto inv = rope_inv_freqs(c, LlamaWeights{});
  ASSERT_TRUE(inv.is_ok());
  ASSERT_EQ(inv->size(), 32u);
  // Wavelengths below 8192 / 4 = 2048 keep their frequency; above 8192 / 1 are divided by 32; in
  // between, 1 / factor = (1 - s) / 32 + s with s = (8192 / wavelen - 1) / (4 - 1).
  for (int i : {0, 5, 15, 16, 17, 20, 31}) {
    const double base = std::pow(500000.0, -2.0 * i / 64.0);
    const double wavelen = 2 * std::numbers::pi / base;
    double want = base;
    if (wavelen > 8192) {
      want = base / 32;
    } else if (wavelen >= 2048) {
      const double s = (8192 / wavelen - 1) / 3;
      want = base * ((1 - s) / 32 + s);
      EXPECT_TRUE(i == 15 || i == 16 || i == 17) << i;  // the smooth band of this shape
    }
    EXPECT_NEAR((*inv)[static_cast<std::size_t>(i)], want, want * 1e-6) << i;
    EXPECT_NEAR(llama3_freq_factor(c, base), base / want, 1e-9 * base / want) << i;
  }
  EXPECT_FLOAT_EQ((*inv)[0], 1.0f);
}

TEST(RopeTest, FactorsFromTheRopeFreqsTensorWin) {
  LlamaConfig c = config(4, 10000.0f);
  c.rope_scaling = RopeScaling::kLlama3;  // ignored: the tensor is there
  const std::vector<float> factors = {2.0f, 4.0f};
  LlamaWeights w;
  w.rope_freqs = TensorView{.dtype = DType::kF32, .n_dims = 1, .dims = {2, 1, 1, 1}, .data = factors.data()};
  auto inv = rope_inv_freqs(c, w);
  ASSERT_TRUE(inv.is_ok());
  EXPECT_FLOAT_EQ((*inv)[0], 0.5f);
  EXPECT_FLOAT_EQ((*inv)[1], 0.0025f);
  w.rope_freqs.dims[0] = 3;
  EXPECT_EQ(rope_inv_freqs(c, w).status().code(), StatusCode::kInvalidArgument);
}

TEST(RopeTest, RejectsOddOrOversizedRopeDim) {
  LlamaConfig c = config(4, 10000.0f);
  c.rope_dim = 3;
  EXPECT_FALSE(rope_inv_freqs(c, LlamaWeights{}).is_ok());
  c.rope_dim = 6;
  EXPECT_FALSE(rope_inv_freqs(c, LlamaWeights{}).is_ok());
}

}  // namespace
}  // namespace chatscale::engine::cpu
