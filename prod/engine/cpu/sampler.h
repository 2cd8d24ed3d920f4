// Token sampling from one row of logits: greedy (temperature 0), or temperature softmax restricted by
// top-k, top-p (nucleus) and min-p, with an optional repetition penalty over recent tokens. Each
// sequence owns a Sampler seeded with its own seed (xoshiro256** seeded through splitmix64), so the
// same seed and the same logits give the same tokens, independent of other sequences or threads.
//
// Filters apply in this order: repetition penalty, temperature, top-k, top-p, min-p; at least the most
// likely token always survives. Ties break toward the lower token id.
//
// Ownership: a value holding its parameters and 32 bytes of generator state; scratch is allocated per
// call. Thread-safety: none per instance; distinct instances are independent.
// Failure behaviour: create() is InvalidArgument for out-of-range parameters; sample() on an empty
// row returns -1.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace chatscale::engine {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy; otherwise > 0
  std::int32_t top_k = 0;           // 0: off
  float top_p = 1.0f;               // (0, 1]; 1: off
  float min_p = 0.0f;               // [0, 1]; 0: off
  float repetition_penalty = 1.0f;  // > 0; 1: off (llama.cpp rule: positive logits / p, negative * p)
  std::uint64_t seed = 0;
};

// The 64-bit generator: xoshiro256** (Blackman and Vigna), state from splitmix64(seed).
class Rng64 {
 public:
  explicit Rng64(std::uint64_t seed);
  std::uint64_t next();
  double uniform();  // [0, 1), 53 random bits

 private:
  std::array<std::uint64_t, 4> s_{};
};

class Sampler {
 public:
  static Result<Sampler> create(const SamplingParams& params);

  const SamplingParams& params() const { return params_; }

  // Draws a token id from `logits`; `recent` are the tokens the repetition penalty applies to.
  std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> recent = {});

  struct Candidate {
    float logit;
    std::int32_t id;
  };

 private:
  std::size_t nucleus(std::vector<Candidate>& c, bool sorted, double total, double mx, double inv_t) const;

  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  SamplingParams params_;
  Rng64 rng_;
};

// Index of the largest value (lowest index on ties); -1 when empty.
std::int32_t argmax(std::span<const float> logits);

}  // namespace chatscale::engine
