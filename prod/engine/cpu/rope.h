// Rotary position embedding as llama.h defines it: adjacent pairs (x[2i], x[2i+1]) of each head rotate
// by pos * inv_freq[i], inv_freq[i] = rope_theta^(-2i / rope_dim) / factor[i]. The factors come from
// the model's rope_freqs tensor when it has one, else from the Llama-3 scaling parameters of the
// config (llama.cpp's and HF's "llama3" rope_type formula), else 1.
//
// Free functions; thread-safe; no validation beyond what the comments say.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine::cpu {

// Llama-3 factor for one base frequency (radians per position): 1 for wavelengths below
// original_context / high_freq_factor, rope_factor above original_context / low_freq_factor, and in
// between 1 / ((1 - s) / rope_factor + s) with s = (original_context / wavelen - low) / (high - low).
double llama3_freq_factor(const LlamaConfig& config, double base_freq);

// rope_dim / 2 inverse frequencies. InvalidArgument when rope_dim is odd or above head_dim, or the
// rope_freqs tensor has the wrong size or a dtype other than F32/F16/BF16.
Result<std::vector<float>> rope_inv_freqs(const LlamaConfig& config, const LlamaWeights& weights);

// Rotates the first 2 * inv_freq.size() dims of each of `heads` heads of head_dim floats in x, given
// cos/sin of pos * inv_freq (cs[2i] = cos, cs[2i + 1] = sin).
void apply_rope(float* x, std::int64_t heads, std::int64_t head_dim, const float* cs, std::int64_t pairs);

// cs[2i], cs[2i + 1] = cos, sin of pos * inv_freq[i] (angles in double).
void rope_cos_sin(std::int64_t pos, const std::vector<float>& inv_freq, float* cs);

}  // namespace chatscale::engine::cpu
