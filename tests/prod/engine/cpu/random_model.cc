#include "tests/prod/engine/cpu/random_model.h"

#include <cmath>
#include <cstring>

#include "prod/engine/cpu/sampler.h"

namespace chatscale::engine::testing {
namespace {

struct Builder {
  RandomModel& m;
  Rng64 rng;
  DType dtype;

  TensorView tensor(DType t, std::int64_t d0, std::int64_t d1, float center, float spread) {
    const std::int64_t n = d0 * d1;
    std::vector<float> f(static_cast<std::size_t>(n));
    for (float& x : f) x = center + spread * static_cast<float>(2.0 * rng.uniform() - 1.0);
    auto bytes = std::make_unique<std::vector<std::uint8_t>>(static_cast<std::size_t>(dtype_bytes(t, n)));
    std::uint8_t* out = bytes->data();
    for (std::int64_t i = 0; i < n; ++i) {
      if (t == DType::kF32) std::memcpy(out + 4 * i, &f[static_cast<std::size_t>(i)], 4);
      const std::uint16_t h = t == DType::kF16 ? f32_to_f16(f[static_cast<std::size_t>(i)])
                                               : f32_to_bf16(f[static_cast<std::size_t>(i)]);
      if (t == DType::kF16 || t == DType::kBF16) std::memcpy(out + 2 * i, &h, 2);
    }
    if (t == DType::kQ8_0) {
      for (std::int64_t b = 0; b < n / kQ8BlockSize; ++b) {
        const BlockQ8_0 q = quantize_q8_0(&f[static_cast<std::size_t>(b * kQ8BlockSize)]);
        std::memcpy(out + b * static_cast<std::int64_t>(sizeof(BlockQ8_0)), &q, sizeof(BlockQ8_0));
      }
    }
    TensorView v;
    v.dtype = t;
    v.n_dims = d1 > 1 ? 2 : 1;
    v.dims = {d0, d1, 1, 1};
    v.data = bytes->data();
    m.storage.push_back(std::move(bytes));
    return v;
  }
  TensorView matrix(std::int64_t in, std::int64_t out) {
    return tensor(dtype, in, out, 0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
  }
  TensorView norm(std::int64_t n) { return tensor(DType::kF32, n, 1, 1.0f, 0.1f); }
};

}  // namespace

std::int64_t RandomModel::weight_bytes() const {
  std::int64_t total = 0;
  for (const auto& s : storage) total += static_cast<std::int64_t>(s->size());
  return total;
}

RandomModel make_random_model(const LlamaConfig& c, DType dtype, std::uint64_t seed, bool tied) {
  RandomModel m;
  m.config = c;
  Builder b{m, Rng64(seed), dtype};
  const std::int64_t qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  m.weights.token_embd = b.tensor(dtype, c.hidden, c.vocab, 0.0f, 1.0f);
  m.weights.output_norm = b.norm(c.hidden);
  m.weights.output = tied ? m.weights.token_embd : b.matrix(c.hidden, c.vocab);
  for (std::int64_t l = 0; l < c.layers; ++l) {
    LlamaLayerWeights w;
    w.attn_norm = b.norm(c.hidden);
    w.wq = b.matrix(c.hidden, qd);
    w.wk = b.matrix(c.hidden, kvd);
    w.wv = b.matrix(c.hidden, kvd);
    w.wo = b.matrix(qd, c.hidden);
    w.ffn_norm = b.norm(c.hidden);
    w.w_gate = b.matrix(c.hidden, c.ffn);
    w.w_up = b.matrix(c.hidden, c.ffn);
    w.w_down = b.matrix(c.ffn, c.hidden);
    m.weights.layers.push_back(w);
  }
  return m;
}

LlamaConfig tiny_config(std::int64_t kv_heads, std::int64_t layers) {
  LlamaConfig c;
  c.vocab = 256;
  c.hidden = 64;
  c.layers = layers;
  c.heads = 4;
  c.kv_heads = kv_heads;
  c.head_dim = 16;
  c.ffn = 128;
  c.context_length = 128;
  c.rope_dim = 16;
  c.rope_theta = 10000.0f;
  return c;
}

}  // namespace chatscale::engine::testing
