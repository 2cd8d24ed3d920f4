#include "prod/engine/cpu/reference.h"

#include <cmath>
#include <string>

#include "prod/engine/cpu/rope.h"
#include "prod/engine/cpu/weights_check.h"

namespace chatscale::engine {
namespace {

std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<std::size_t>(t.elements()));
  dequantize(t.dtype, t.data, out.data(), t.elements());
  return out;
}

void rmsnorm(const float* x, const std::vector<float>& w, float eps, float* y) {
  const auto n = static_cast<std::int64_t>(w.size());
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * scale) * w[static_cast<std::size_t>(i)];
}

void rope(float* x, std::int64_t heads, std::int64_t head_dim, std::int64_t pos, const std::vector<float>& inv_freq) {
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < inv_freq.size(); ++i) {
      const double a = static_cast<double>(pos) * inv_freq[i];
      const float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
      float* p = x + h * head_dim + 2 * static_cast<std::int64_t>(i);
      const float x0 = p[0], x1 = p[1];
      p[0] = x0 * c - x1 * s;
      p[1] = x0 * s + x1 * c;
    }
  }
}

}  // namespace

Result<ReferenceModel> ReferenceModel::create(const LlamaConfig& config, const LlamaWeights& weights) {
  CS_RETURN_IF_ERROR(cpu::check_llama_weights(config, weights));
  ReferenceModel m;
  CS_ASSIGN_OR_RETURN(m.inv_freq_, cpu::rope_inv_freqs(config, weights));
  m.config_ = config;
  m.token_embd_ = to_f32(weights.token_embd);
  m.output_norm_ = to_f32(weights.output_norm);
  m.output_ = to_f32(weights.output);
  for (const LlamaLayerWeights& l : weights.layers) {
    m.layers_.push_back(Layer{to_f32(l.attn_norm), to_f32(l.wq), to_f32(l.wk), to_f32(l.wv), to_f32(l.wo),
                              to_f32(l.ffn_norm), to_f32(l.w_gate), to_f32(l.w_up), to_f32(l.w_down)});
  }
  return m;
}

// y = W x with W stored as `out` rows of `in` floats.
void ReferenceModel::linear(const std::vector<float>& w, const float* x, std::int64_t in, std::int64_t out, float* y) {
  for (std::int64_t r = 0; r < out; ++r) {
    float s = 0;
    for (std::int64_t i = 0; i < in; ++i) s += w[static_cast<std::size_t>(r * in + i)] * x[i];
    y[r] = s;
  }
}

void ReferenceModel::layer_forward(const Layer& w, std::size_t li, ReferenceSequence& seq, std::int64_t pos,
                                   float* x) const {
  const LlamaConfig& c = config_;
  const std::int64_t hd = c.head_dim, qd = c.heads * hd, kvd = c.kv_heads * hd, hid = c.hidden;
  std::vector<float> n(static_cast<std::size_t>(hid)), q(static_cast<std::size_t>(qd)),
      k(static_cast<std::size_t>(kvd)), v(static_cast<std::size_t>(kvd)), att(static_cast<std::size_t>(qd), 0.0f),
      o(static_cast<std::size_t>(hid));
  rmsnorm(x, w.attn_norm, c.rms_eps, n.data());
  linear(w.wq, n.data(), hid, qd, q.data());
  linear(w.wk, n.data(), hid, kvd, k.data());
  linear(w.wv, n.data(), hid, kvd, v.data());
  rope(q.data(), c.heads, hd, pos, inv_freq_);
  rope(k.data(), c.kv_heads, hd, pos, inv_freq_);
  seq.k[li].insert(seq.k[li].end(), k.begin(), k.end());
  seq.v[li].insert(seq.v[li].end(), v.begin(), v.end());
  const std::int64_t group = c.heads / c.kv_heads;
  std::vector<float> sc(static_cast<std::size_t>(pos + 1));
  for (std::int64_t h = 0; h < c.heads; ++h) {
    const std::int64_t kvh = h / group;
    float mx = -INFINITY, sum = 0;
    for (std::int64_t p = 0; p <= pos; ++p) {
      float s = 0;
      for (std::int64_t d = 0; d < hd; ++d) s += q[static_cast<std::size_t>(h * hd + d)] * seq.k[li][static_cast<std::size_t>(p * kvd + kvh * hd + d)];
      sc[static_cast<std::size_t>(p)] = s / std::sqrt(static_cast<float>(hd));
      mx = std::fmax(mx, sc[static_cast<std::size_t>(p)]);
    }
    for (float& s : sc) sum += (s = std::exp(s - mx));
    for (std::int64_t p = 0; p <= pos; ++p) {
      for (std::int64_t d = 0; d < hd; ++d) {
        att[static_cast<std::size_t>(h * hd + d)] += sc[static_cast<std::size_t>(p)] / sum * seq.v[li][static_cast<std::size_t>(p * kvd + kvh * hd + d)];
      }
    }
  }
  linear(w.wo, att.data(), qd, hid, o.data());
  for (std::int64_t i = 0; i < hid; ++i) x[i] += o[static_cast<std::size_t>(i)];
  std::vector<float> g(static_cast<std::size_t>(c.ffn)), u(static_cast<std::size_t>(c.ffn));
  rmsnorm(x, w.ffn_norm, c.rms_eps, n.data());
  linear(w.w_gate, n.data(), hid, c.ffn, g.data());
  linear(w.w_up, n.data(), hid, c.ffn, u.data());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  linear(w.w_down, g.data(), c.ffn, hid, o.data());
  for (std::int64_t i = 0; i < hid; ++i) x[i] += o[static_cast<std::size_t>(i)];
}

Result<std::vector<float>> ReferenceModel::forward(ReferenceSequence& seq, std::span<const std::int32_t> tokens,
                                                   bool all_logits) const {
  const LlamaConfig& c = config_;
  if (tokens.empty()) return invalid_argument("reference forward: no tokens");
  if (c.context_length > 0 && seq.length + static_cast<std::int64_t>(tokens.size()) > c.context_length) {
    return invalid_argument("reference forward: context exceeds context_length " + std::to_string(c.context_length));
  }
  for (std::int32_t t : tokens) {
    if (t < 0 || t >= c.vocab) return invalid_argument("reference forward: token id " + std::to_string(t) + " outside the vocabulary");
  }
  seq.k.resize(layers_.size());
  seq.v.resize(layers_.size());
  std::vector<float> logits, x(static_cast<std::size_t>(c.hidden)), n(x.size()), row(static_cast<std::size_t>(c.vocab));
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    const float* e = &token_embd_[static_cast<std::size_t>(tokens[j] * c.hidden)];
    x.assign(e, e + c.hidden);
    for (std::size_t l = 0; l < layers_.size(); ++l) layer_forward(layers_[l], l, seq, seq.length, x.data());
    ++seq.length;
    if (!all_logits && j + 1 != tokens.size()) continue;
    rmsnorm(x.data(), output_norm_, c.rms_eps, n.data());
    linear(output_, n.data(), c.hidden, c.vocab, row.data());
    logits.insert(logits.end(), row.begin(), row.end());
  }
  return logits;
}

Result<std::vector<float>> reference_forward(const LlamaConfig& config, const LlamaWeights& weights,
                                             std::span<const std::int32_t> tokens) {
  CS_ASSIGN_OR_RETURN(ReferenceModel m, ReferenceModel::create(config, weights));
  ReferenceSequence seq;
  return m.forward(seq, tokens);
}

}  // namespace chatscale::engine
