// Sampler: greedy = argmax, top-k 1 = greedy, tiny top-p = greedy, min-p, repetition penalty, seeded
// reproducibility, parameter validation, and temperature-1 draws distributed as the softmax
// (chi-square with 7 degrees of freedom below 30, p ~ 1e-4; a sampler off by one token, uniform, or
// ignoring temperature lands in the hundreds).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "prod/engine/cpu/sampler.h"

namespace chatscale::engine {
namespace {

const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 1.9f, -3.0f, 1.0f};

Sampler make(SamplingParams p) {
  auto s = Sampler::create(p);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return std::move(s).value();
}

TEST(SamplerTest, GreedyIsArgmax) {
  Sampler s = make({.temperature = 0.0f});
  EXPECT_EQ(s.sample(kLogits), 1);
  EXPECT_EQ(argmax(kLogits), 1);
  const std::vector<float> tie = {1.0f, 3.0f, 3.0f};
  EXPECT_EQ(s.sample(tie), 1);  // lower id on ties
  EXPECT_EQ(s.sample({}), -1);
}

TEST(SamplerTest, TopK1AndTinyTopPAreGreedy) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Sampler k1 = make({.temperature = 1.5f, .top_k = 1, .seed = seed});
    Sampler p0 = make({.temperature = 1.5f, .top_p = 1e-6f, .seed = seed});
    EXPECT_EQ(k1.sample(kLogits), 1);
    EXPECT_EQ(p0.sample(kLogits), 1);
  }
}

TEST(SamplerTest, TopKAndMinPRestrictTheSupport) {
  Sampler k3 = make({.temperature = 1.0f, .top_k = 3, .seed = 11});
  Sampler mp = make({.temperature = 1.0f, .min_p = 0.5f, .seed = 12});  // keeps p >= 0.5 p_max: ids 1, 5, 3
  for (int i = 0; i < 2000; ++i) {
    const std::int32_t a = k3.sample(kLogits), b = mp.sample(kLogits);
    EXPECT_TRUE(a == 1 || a == 5 || a == 3) << a;
    EXPECT_TRUE(b == 1 || b == 5 || b == 3) << b;
  }
}

TEST(SamplerTest, RepetitionPenaltyDemotesRecentTokens) {
  Sampler s = make({.temperature = 0.0f, .repetition_penalty = 1.5f});
  const std::vector<std::int32_t> recent = {1, 1, 40};  // 40 is out of range: ignored
  EXPECT_EQ(s.sample(kLogits, recent), 5);              // 2.0 / 1.5 < 1.9
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<std::int32_t> a, b, c;
  Sampler s1 = make({.temperature = 1.0f, .top_p = 0.95f, .seed = 77});
  Sampler s2 = make({.temperature = 1.0f, .top_p = 0.95f, .seed = 77});
  Sampler s3 = make({.temperature = 1.0f, .top_p = 0.95f, .seed = 78});
  for (int i = 0; i < 64; ++i) {
    a.push_back(s1.sample(kLogits));
    b.push_back(s2.sample(kLogits));
    c.push_back(s3.sample(kLogits));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SamplerTest, TemperatureOneMatchesSoftmax) {
  for (float temperature : {1.0f, 0.7f}) {
    Sampler s = make({.temperature = temperature, .seed = 2024});
    constexpr int kDraws = 5000;
    std::vector<int> counts(kLogits.size(), 0);
    for (int i = 0; i < kDraws; ++i) ++counts[static_cast<std::size_t>(s.sample(kLogits))];
    double z = 0;
    for (float l : kLogits) z += std::exp(l / temperature);
    double chi2 = 0;
    for (std::size_t i = 0; i < kLogits.size(); ++i) {
      const double expected = kDraws * std::exp(kLogits[i] / temperature) / z;
      chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    EXPECT_LT(chi2, 30.0) << "temperature " << temperature;
  }
}

// A nucleus wider than the sampler's first partial sort (64): every draw lies in the nucleus computed
// here by a full sort, and draws reach past rank 64.
TEST(SamplerTest, WideNucleusOnALargeVocabulary) {
  Rng64 rng(5);
  std::vector<float> logits(1500);
  for (float& l : logits) l = static_cast<float>(rng.uniform() * 3);
  std::vector<std::int32_t> order(logits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
  });
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l));
  std::vector<int> rank(logits.size(), -1);
  double cum = 0;
  for (std::size_t k = 0; k < order.size() && cum < 0.5 * total; ++k) {
    rank[static_cast<std::size_t>(order[k])] = static_cast<int>(k);
    cum += std::exp(static_cast<double>(logits[static_cast<std::size_t>(order[k])]));
  }
  Sampler s = make({.temperature = 1.0f, .top_p = 0.5f, .seed = 3});
  int deepest = 0;
  for (int i = 0; i < 400; ++i) {
    const std::int32_t t = s.sample(logits);
    ASSERT_GE(rank[static_cast<std::size_t>(t)], 0) << "token " << t << " outside the nucleus";
    deepest = std::max(deepest, rank[static_cast<std::size_t>(t)]);
  }
  EXPECT_GT(deepest, 64);
}

TEST(SamplerTest, RejectsBadParameters) {
  EXPECT_FALSE(Sampler::create({.temperature = -1.0f}).is_ok());
  EXPECT_FALSE(Sampler::create({.temperature = NAN}).is_ok());
  EXPECT_FALSE(Sampler::create({.top_k = -2}).is_ok());
  EXPECT_FALSE(Sampler::create({.top_p = 0.0f}).is_ok());
  EXPECT_FALSE(Sampler::create({.top_p = 1.5f}).is_ok());
  EXPECT_FALSE(Sampler::create({.min_p = 2.0f}).is_ok());
  EXPECT_FALSE(Sampler::create({.repetition_penalty = 0.0f}).is_ok());
}

TEST(Rng64Test, UniformIsInRangeAndSeedsDiffer) {
  Rng64 a(1), b(1), c(2);
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    EXPECT_EQ(b.next() >> 11, static_cast<std::uint64_t>(std::ldexp(u, 53)));
  }
  EXPECT_NE(Rng64(1).next(), c.next());
}

}  // namespace
}  // namespace chatscale::engine
