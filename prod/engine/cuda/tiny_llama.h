// TinyLlama: a two-layer Llama (hidden 64, 4 heads over 2 KV heads, head dim 16, FFN 128) with random
// f32 weights whose values are exactly representable in bf16, so the GPU's bf16 copy of them is exact
// and CUDA-vs-CPU checks measure the kernels, not the weight rounding. Used by the CUDA checks
// (cuda_checks_model.cc, cuda_checks_backend.cc).
//
// Ownership: a TinyLlama owns the storage its LlamaWeights views point into; keep it alive (and do not
// move the vectors) while the weights are in use. Thread-safety: none needed (built once, then read).
// Failure behaviour: none (the shape is fixed and valid).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "prod/engine/llama.h"

namespace chatscale::gpu {

struct TinyLlamaSpec {
  std::int64_t vocab = 128;
  std::int64_t context_length = 256;
  bool llama3_rope = false;      // Llama-3 RoPE scaling with an original context of 16
  float norm_lo = 0.9f, norm_hi = 1.1f;  // range of the RMSNorm weights
  std::uint32_t seed = 1234;
};

struct TinyLlama {
  engine::LlamaConfig config;
  engine::LlamaWeights weights;
  std::vector<std::unique_ptr<std::vector<float>>> storage;
  std::mt19937 rng;

  // A cols x rows f32 tensor (rows == 1: a vector), uniform in [lo, hi) rounded to bf16 values.
  engine::TensorView tensor(std::int64_t cols, std::int64_t rows, float lo, float hi);
};

std::unique_ptr<TinyLlama> make_tiny_llama(const TinyLlamaSpec& spec);

}  // namespace chatscale::gpu
