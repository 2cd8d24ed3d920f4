// SHAPE.yaml parsing: the gpu-predict keys, comments, optional keys, and errors naming file:line.
#include <gtest/gtest.h>

#include "prod/engine/model/shape.h"

namespace chatscale::engine {
namespace {

constexpr const char* kShape =
    "# Llama-3.2-1B\n"
    "name: llama-3.2-1b\n"
    "hidden: 2048   # model width\n"
    "heads: 32\n"
    "kv_heads: 8\n"
    "head_dim: 64\n"
    "ffn: 8192\n"
    "layers: 16\n"
    "vocab: 128256\n"
    "dtype_bytes: 2\n"
    "\n"
    "context_length: 131072\n"
    "rope_theta: 500000\n"
    "rope_scaling: llama3\n"
    "rope_factor: 32\n";

TEST(ShapeParse, Llama32_1B) {
  auto s = parse_shape(kShape, "SHAPE.yaml");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->name, "llama-3.2-1b");
  EXPECT_EQ(s->hidden, 2048);
  EXPECT_EQ(s->heads, 32);
  EXPECT_EQ(s->kv_heads, 8);
  EXPECT_EQ(s->head_dim, 64);
  EXPECT_EQ(s->ffn, 8192);
  EXPECT_EQ(s->layers, 16);
  EXPECT_EQ(s->vocab, 128256);
  EXPECT_EQ(s->dtype_bytes, 2);
  EXPECT_EQ(s->context_length, 131072);
  EXPECT_EQ(s->rope_theta, 500000.0);
  EXPECT_EQ(s->rope_scaling, RopeScaling::kLlama3);
  EXPECT_EQ(s->rope_factor, 32.0);
  const LlamaConfig c = shape_config(*s);
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.rope_factor, 32.0f);
}

std::string error_of(const std::string& text) {
  auto s = parse_shape(text, "S.yaml");
  EXPECT_FALSE(s.is_ok());
  return s.is_ok() ? "" : s.status().message();
}

TEST(ShapeParse, Errors) {
  const std::string base = "hidden: 64\nheads: 4\nkv_heads: 2\nhead_dim: 16\nffn: 96\nlayers: 2\nvocab: 300\n";
  EXPECT_TRUE(parse_shape(base, "S.yaml").is_ok());
  EXPECT_EQ(error_of(base + "colour: red\n"), "S.yaml:8: unknown key \"colour\"");
  EXPECT_EQ(error_of("hidden: 6x4\n"), "S.yaml:1: hidden: expected an integer, got \"6x4\"");
  EXPECT_EQ(error_of("hidden: 0\n"), "S.yaml:1: hidden: must be at least 1");
  EXPECT_EQ(error_of("# c\nhidden 64\n"), "S.yaml:2: expected \"key: value\", got \"hidden 64\"");
  EXPECT_EQ(error_of("hidden: 64\nhidden: 32\n"), "S.yaml:2: duplicate key \"hidden\"");
  EXPECT_EQ(error_of("hidden:\n"), "S.yaml:1: hidden: missing value");
  EXPECT_EQ(error_of("hidden: 64\n"), "S.yaml: missing required key \"heads\"");
  EXPECT_EQ(error_of(base + "rope_scaling: yarn\n"), "S.yaml:8: rope_scaling: expected llama3 or none, got \"yarn\"");
  EXPECT_EQ(error_of(base + "rope_theta: -1\n"), "S.yaml:8: rope_theta: expected a positive number, got \"-1\"");
  EXPECT_NE(error_of("hidden: 64\nheads: 4\nkv_heads: 3\nhead_dim: 16\nffn: 96\nlayers: 2\nvocab: 300\n")
                .find("must be a multiple of kv_heads"),
            std::string::npos);
  EXPECT_NE(error_of(base + "dtype_bytes: 3\n").find("dtype_bytes must be 1"), std::string::npos);
  EXPECT_NE(read_shape_file("/nonexistent/S.yaml").status().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace chatscale::engine
