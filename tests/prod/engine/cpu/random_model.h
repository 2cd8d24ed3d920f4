// Test and benchmark support: a Llama model with random weights held in memory. Owns the bytes its
// LlamaWeights views point into (the views stay valid while the RandomModel lives and is not copied;
// it is move-only). Weights are uniform in +-1/sqrt(in) (so activations stay O(1)), norms 1 +- 0.1 in
// f32, matrices and the embedding in the chosen dtype; deterministic for a seed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "prod/engine/llama.h"

namespace chatscale::engine::testing {

struct RandomModel {
  LlamaConfig config;
  LlamaWeights weights;
  std::vector<std::unique_ptr<std::vector<std::uint8_t>>> storage;

  std::int64_t weight_bytes() const;
};

// tied: output views token_embd's bytes.
RandomModel make_random_model(const LlamaConfig& config, DType dtype, std::uint64_t seed, bool tied = false);

// The tiny shape of the unit tests: vocab 256, hidden 64, layers 2, heads 4, head_dim 16, ffn 128.
LlamaConfig tiny_config(std::int64_t kv_heads = 2, std::int64_t layers = 2);

}  // namespace chatscale::engine::testing
