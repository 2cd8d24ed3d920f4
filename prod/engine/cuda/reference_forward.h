// A minimal CPU forward of a Llama-family decoder (llama.h conventions) over f32 weights, for checking
// CudaModel: processes `tokens` at positions 0.. in order with a dense KV cache and returns the
// logits of every position, [tokens][vocab]. Accumulates in double. Pure C++; thread-safe.
// Weights must be DType::kF32 views (the checks build them); anything else gives an empty result.
#pragma once

#include <cstdint>
#include <vector>

#include "prod/engine/llama.h"

namespace chatscale::gpu {

std::vector<float> reference_llama_logits(const engine::LlamaConfig& config, const engine::LlamaWeights& weights,
                                          const std::vector<std::int32_t>& tokens,
                                          const std::vector<float>& inv_freq);

}  // namespace chatscale::gpu
