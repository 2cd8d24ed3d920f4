// Loading a Llama-family model from a GGUF file: LlamaConfig from the standard llama.cpp metadata keys
// (llama.*), LlamaWeights as views into the file's mapping, every tensor's dims and dtype checked
// against the config; and the Llama-3 RoPE frequency factors.
//
// LlamaModel shares the GgufFile (a shared handle to the mapping), so its views stay valid as long as
// the LlamaModel (or any copy of it, or of the file) lives. Immutable after loading; safe to read from
// many threads. Errors are kInvalidArgument naming the file and the key or tensor, with what was
// expected and what was found.
#pragma once

#include <vector>

#include "core/status.h"
#include "prod/engine/gguf/gguf.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

struct LlamaModel {
  GgufFile file;  // keeps the mapping alive
  LlamaConfig config;
  LlamaWeights weights;
  bool tied_output = false;  // output == token_embd (the file has no output.weight)
};

// Reads the config only (architecture "llama" required).
Result<LlamaConfig> read_llama_config(const GgufFile& file);
// Config and weights.
Result<LlamaModel> load_llama(const GgufFile& file);
// Opens `path` and loads it.
Result<LlamaModel> load_llama_file(const std::string& path);

// The Llama-3.1 frequency factors for the rope_dim/2 pair frequencies of `config` (its rope_theta,
// rope_dim, rope_factor, rope_low/high_freq_factor, rope_original_context): the divisor of each base
// inverse frequency inv_freq[i] = theta^(-2i/rope_dim), i.e. inv_freq'[i] = inv_freq[i] / factor[i].
// 1 for high frequencies (wavelen < orig/high), `rope_factor` for low ones (wavelen > orig/low),
// smoothly interpolated between.
std::vector<float> llama3_rope_factors(const LlamaConfig& config);

// The factors the backends apply: the file's rope_freqs tensor (dequantised) when present, else the
// Llama-3 factors when config.rope_scaling is kLlama3, else all ones.
std::vector<float> rope_freq_factors(const LlamaConfig& config, const LlamaWeights& weights);

}  // namespace chatscale::engine
