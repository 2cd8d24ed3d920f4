#include "prod/engine/cuda/tiny_llama.h"

#include <cmath>

#include "prod/engine/tensor.h"

namespace chatscale::gpu {

engine::TensorView TinyLlama::tensor(std::int64_t cols, std::int64_t rows, float lo, float hi) {
  auto data = std::make_unique<std::vector<float>>(static_cast<std::size_t>(cols * rows));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (auto& x : *data) x = engine::bf16_to_f32(engine::f32_to_bf16(dist(rng)));
  engine::TensorView v;
  v.dtype = engine::DType::kF32;
  v.n_dims = rows == 1 ? 1 : 2;
  v.dims = {cols, rows, 1, 1};
  v.data = data->data();
  storage.push_back(std::move(data));
  return v;
}

std::unique_ptr<TinyLlama> make_tiny_llama(const TinyLlamaSpec& spec) {
  auto m = std::make_unique<TinyLlama>();
  m->rng.seed(spec.seed);
  auto& c = m->config;
  c.vocab = spec.vocab, c.hidden = 64, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.head_dim = 16, c.ffn = 128;
  c.context_length = spec.context_length, c.rope_dim = 16, c.rope_theta = 10000.f, c.rms_eps = 1e-5f;
  if (spec.llama3_rope) c.rope_scaling = engine::RopeScaling::kLlama3, c.rope_original_context = 16;
  const float h = 1.f / std::sqrt(64.f), f = 1.f / std::sqrt(128.f);
  const float lo = spec.norm_lo, hi = spec.norm_hi;
  m->weights.token_embd = m->tensor(64, spec.vocab, -1.f, 1.f);
  m->weights.output_norm = m->tensor(64, 1, lo, hi);
  m->weights.output = m->tensor(64, spec.vocab, -h * 4, h * 4);
  for (int l = 0; l < 2; ++l) {
    engine::LlamaLayerWeights lw;
    lw.attn_norm = m->tensor(64, 1, lo, hi);
    lw.wq = m->tensor(64, 64, -h * 2, h * 2);
    lw.wk = m->tensor(64, 32, -h * 2, h * 2);
    lw.wv = m->tensor(64, 32, -h, h);
    lw.wo = m->tensor(64, 64, -h, h);
    lw.ffn_norm = m->tensor(64, 1, lo, hi);
    lw.w_gate = m->tensor(64, 128, -h, h);
    lw.w_up = m->tensor(64, 128, -h, h);
    lw.w_down = m->tensor(128, 64, -f, f);
    m->weights.layers.push_back(lw);
  }
  return m;
}

}  // namespace chatscale::gpu
