// The plain reference forward pass: single-threaded, dense (no paging), obvious loops over weights
// dequantised once to f32. The oracle of the CPU backend's and the CUDA backend's tests, and the
// baseline of the CPU benchmark. It follows llama.h's conventions literally and shares only the RoPE
// frequency computation (cpu/rope.h, unit-tested on its own) with the backend.
//
// Ownership: ReferenceModel owns f32 copies of every weight (4 bytes per parameter) and keeps no
// pointer into the LlamaWeights after construction; a ReferenceSequence owns its dense K/V history.
// Thread-safety: a ReferenceModel is immutable after create(); distinct sequences may run on distinct
// threads. Failure behaviour: create() rejects weights that do not match the config; forward() is
// InvalidArgument for empty input, a token id outside the vocabulary or a context past
// context_length (the sequence is then unchanged).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

// One sequence's dense KV history: k[layer][pos * kv_dim + j], likewise v.
struct ReferenceSequence {
  std::int64_t length = 0;
  std::vector<std::vector<float>> k, v;
};

class ReferenceModel {
 public:
  static Result<ReferenceModel> create(const LlamaConfig& config, const LlamaWeights& weights);

  const LlamaConfig& config() const { return config_; }

  // Appends `tokens` to `seq` (positions seq.length ...) and returns the logits (vocab floats) of
  // every appended token when all_logits, else of the last one only.
  Result<std::vector<float>> forward(ReferenceSequence& seq, std::span<const std::int32_t> tokens,
                                     bool all_logits = false) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
  };
  void layer_forward(const Layer& w, std::size_t li, ReferenceSequence& seq, std::int64_t pos, float* x) const;
  static void linear(const std::vector<float>& w, const float* x, std::int64_t in, std::int64_t out, float* y);

  LlamaConfig config_;
  std::vector<float> token_embd_, output_norm_, output_, inv_freq_;
  std::vector<Layer> layers_;
};

// Logits of the last of `tokens`, run from position 0 on a fresh sequence.
Result<std::vector<float>> reference_forward(const LlamaConfig& config, const LlamaWeights& weights,
                                             std::span<const std::int32_t> tokens);

}  // namespace chatscale::engine
