#include "gpu/shapes.h"

#include <gtest/gtest.h>

namespace chatscale {
namespace {

const char* kLlama8b = R"(name: llama3-8b
hidden: 4096
heads: 32
kv_heads: 8
head_dim: 128
ffn: 14336
layers: 32
vocab: 128256
)";

TEST(ModelShape, ParsesYamlWithDefaults) {
  auto s = parse_model_shape(kLlama8b, "m.yaml");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->name, "llama3-8b");
  EXPECT_EQ(s->hidden, 4096);
  EXPECT_EQ(s->kv_heads, 8);
  EXPECT_EQ(s->vocab, 128256);
  EXPECT_EQ(s->dtype_bytes, 2);
  // Llama 3 8B has 8.03 billion parameters.
  EXPECT_NEAR(s->parameters() / 1e9, 8.03, 0.01);
  // 32 layers x K and V x 8 heads x 128 x 2 bytes.
  EXPECT_DOUBLE_EQ(s->kv_bytes_per_token_per_gpu(1), 131072);
  EXPECT_DOUBLE_EQ(s->kv_bytes_per_token_per_gpu(2), 65536);
  EXPECT_DOUBLE_EQ(s->kv_bytes_per_token_per_gpu(16), 16384);  // one KV head each, replicated
}

TEST(ModelShape, YamlErrorsCarryFileAndLine) {
  auto missing = parse_model_shape("hidden: 4096\nheads: 32\n", "m.yaml");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("m.yaml:1: kv_heads: missing required field"), std::string::npos)
      << missing.status().message();
  auto typo = parse_model_shape(std::string(kLlama8b) + "dtype_byte: 1\n", "m.yaml");
  ASSERT_FALSE(typo.is_ok());
  EXPECT_NE(typo.status().message().find("m.yaml:9: dtype_byte:"), std::string::npos) << typo.status().message();
  std::string bad = kLlama8b;
  bad.replace(bad.find("kv_heads: 8"), 11, "kv_heads: 6");
  auto indivisible = parse_model_shape(bad, "m.yaml");
  ASSERT_FALSE(indivisible.is_ok());
  EXPECT_EQ(indivisible.status().message(), "m.yaml:4: kv_heads: must divide heads (32), got 6");
  auto negative = parse_model_shape(std::string(kLlama8b) + "dtype_bytes: 3\n", "m.yaml");
  ASSERT_FALSE(negative.is_ok());
  EXPECT_EQ(negative.status().message(), "m.yaml:9: dtype_bytes: must be 1, 2 or 4, got 3");
  auto nofile = load_model_shape_file("/nonexistent/m.yaml");
  ASSERT_FALSE(nofile.is_ok());
  EXPECT_EQ(nofile.status().message(), "/nonexistent/m.yaml: cannot open the file");
}

TEST(ModelShape, TensorParallelChecks) {
  ModelShape s = parse_model_shape(kLlama8b, "m.yaml").value();
  EXPECT_TRUE(check_tensor_parallel(s, 1).is_ok());
  EXPECT_TRUE(check_tensor_parallel(s, 8).is_ok());
  EXPECT_TRUE(check_tensor_parallel(s, 16).is_ok());  // KV heads replicated
  EXPECT_FALSE(check_tensor_parallel(s, 0).is_ok());
  EXPECT_EQ(check_tensor_parallel(s, 3).message(), "tp: must divide heads (32) and ffn (14336), got 3");
  s.heads = 48;
  s.kv_heads = 12;
  EXPECT_EQ(check_tensor_parallel(s, 8).message(), "tp: must divide kv_heads (12) or be a multiple of it, got 8");
}

TEST(ModelShape, KvCapacity) {
  ModelShape s = parse_model_shape(kLlama8b, "m.yaml").value();
  GpuSpecs h100;
  // (0.9 x 80 GB - 16.06 GB of weights) / 128 KiB per token.
  EXPECT_NEAR(static_cast<double>(kv_capacity_tokens(s, h100, 1)), (72e9 - s.parameters() * 2) / 131072, 1);
  EXPECT_GT(kv_capacity_tokens(s, h100, 2), 2 * kv_capacity_tokens(s, h100, 1));  // weights split too
  h100.memory_bytes = 10e9;
  EXPECT_EQ(kv_capacity_tokens(s, h100, 1), 0);  // the weights do not fit
}

TEST(IterationShape, Composition) {
  IterationShape it = IterationShape::decode(3, 100);
  EXPECT_EQ(it.tokens(), 3);
  EXPECT_EQ(it.logit_rows(), 3);
  EXPECT_TRUE(it.decode_only());
  it.prefills.push_back({512, 1024});
  EXPECT_EQ(it.tokens(), 515);
  EXPECT_EQ(it.logit_rows(), 4);
  EXPECT_FALSE(it.decode_only());
  EXPECT_EQ(IterationShape::prefill(2, 64).tokens(), 128);
  EXPECT_TRUE(IterationShape::decode(0, 5).empty());
  EXPECT_TRUE(IterationShape::decode(-1, 5).empty());
}

TEST(GpuSpecs, TensorFlopsScaleWithPrecision) {
  GpuSpecs g;
  EXPECT_DOUBLE_EQ(tensor_flops(g, 2), g.dense_bf16_flops);
  EXPECT_DOUBLE_EQ(tensor_flops(g, 1), 2 * g.dense_bf16_flops);
  EXPECT_DOUBLE_EQ(tensor_flops(g, 4), g.dense_bf16_flops / 2);
}

}  // namespace
}  // namespace chatscale
