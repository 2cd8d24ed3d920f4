#include "prod/engine/cuda/reference_forward.h"

#include <algorithm>
#include <cmath>

namespace chatscale::gpu {
namespace {

using engine::TensorView;

const float* f32(const TensorView& v) { return static_cast<const float*>(v.data); }

// y[o] = sum_i W[o][i] x[i], W a {in, out} view.
std::vector<double> linear(const TensorView& w, const std::vector<double>& x) {
  const std::int64_t in = w.dims[0], out = w.rows();
  std::vector<double> y(static_cast<size_t>(out), 0.0);
  for (std::int64_t o = 0; o < out; ++o) {
    const float* row = f32(w) + o * in;
    double s = 0;
    for (std::int64_t i = 0; i < in; ++i) s += row[i] * x[static_cast<size_t>(i)];
    y[static_cast<size_t>(o)] = s;
  }
  return y;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const TensorView& w, float eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * f32(w)[i];
  return y;
}

void rope(std::vector<double>& v, int heads, int head_dim, int rope_dim, int pos, const std::vector<float>& inv_freq) {
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < rope_dim / 2; ++i) {
      const double angle = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
      double* p = &v[static_cast<size_t>(h * head_dim + 2 * i)];
      const double a = p[0], b = p[1];
      p[0] = a * std::cos(angle) - b * std::sin(angle);
      p[1] = a * std::sin(angle) + b * std::cos(angle);
    }
}

}  // namespace

std::vector<float> reference_llama_logits(const engine::LlamaConfig& c, const engine::LlamaWeights& w,
                                          const std::vector<std::int32_t>& tokens,
                                          const std::vector<float>& inv_freq) {
  const int heads = int(c.heads), kvh = int(c.kv_heads), hd = int(c.head_dim), group = heads / kvh;
  std::vector<std::vector<std::vector<double>>> k_cache(w.layers.size()), v_cache(w.layers.size());
  std::vector<float> logits;
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> x(static_cast<size_t>(c.hidden));
    for (std::int64_t i = 0; i < c.hidden; ++i) x[size_t(i)] = f32(w.token_embd)[tokens[t] * c.hidden + i];
    for (size_t l = 0; l < w.layers.size(); ++l) {
      const auto& lw = w.layers[l];
      auto n = rmsnorm(x, lw.attn_norm, c.rms_eps);
      auto q = linear(lw.wq, n), k = linear(lw.wk, n), v = linear(lw.wv, n);
      rope(q, heads, hd, int(c.rope_dim), int(t), inv_freq);
      rope(k, kvh, hd, int(c.rope_dim), int(t), inv_freq);
      k_cache[l].push_back(k);
      v_cache[l].push_back(v);
      std::vector<double> attn(static_cast<size_t>(heads * hd), 0.0);
      for (int h = 0; h < heads; ++h) {
        const int g = h / group;
        std::vector<double> scores(t + 1);
        double m = -1e300;
        for (size_t p = 0; p <= t; ++p) {
          double s = 0;
          for (int d = 0; d < hd; ++d) s += q[size_t(h * hd + d)] * k_cache[l][p][size_t(g * hd + d)];
          scores[p] = s / std::sqrt(static_cast<double>(hd));
          m = std::max(m, scores[p]);
        }
        double sum = 0;
        for (auto& s : scores) sum += (s = std::exp(s - m));
        for (size_t p = 0; p <= t; ++p)
          for (int d = 0; d < hd; ++d) attn[size_t(h * hd + d)] += scores[p] / sum * v_cache[l][p][size_t(g * hd + d)];
      }
      auto o = linear(lw.wo, attn);
      for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
      auto m2 = rmsnorm(x, lw.ffn_norm, c.rms_eps);
      auto gate = linear(lw.w_gate, m2), up = linear(lw.w_up, m2);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      auto down = linear(lw.w_down, gate);
      for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
    }
    auto out = linear(w.output.data != nullptr ? w.output : w.token_embd, rmsnorm(x, w.output_norm, c.rms_eps));
    for (double d : out) logits.push_back(static_cast<float>(d));
  }
  return logits;
}

}  // namespace chatscale::gpu
