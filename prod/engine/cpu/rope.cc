#include "prod/engine/cpu/rope.h"

#include <cmath>
#include <numbers>
#include <string>

namespace chatscale::engine::cpu {

double llama3_freq_factor(const LlamaConfig& config, double base_freq) {
  const double old_ctx = static_cast<double>(config.rope_original_context);
  const double low = config.rope_low_freq_factor;
  const double high = config.rope_high_freq_factor;
  const double wavelen = 2.0 * std::numbers::pi / base_freq;
  if (wavelen < old_ctx / high) return 1.0;
  if (wavelen > old_ctx / low) return config.rope_factor;
  const double smooth = (old_ctx / wavelen - low) / (high - low);
  return 1.0 / ((1.0 - smooth) / config.rope_factor + smooth);
}

Result<std::vector<float>> rope_inv_freqs(const LlamaConfig& config, const LlamaWeights& weights) {
  const std::int64_t dim = config.rope_dim > 0 ? config.rope_dim : config.head_dim;
  if (dim <= 0 || dim % 2 != 0 || dim > config.head_dim) {
    return invalid_argument("rope_dim " + std::to_string(dim) + " must be even, positive and at most head_dim " +
                            std::to_string(config.head_dim));
  }
  const std::int64_t pairs = dim / 2;
  std::vector<float> factors(static_cast<std::size_t>(pairs), 1.0f);
  const TensorView& rf = weights.rope_freqs;
  if (rf.n_dims > 0) {
    if (rf.elements() != pairs || rf.dtype == DType::kQ8_0 || rf.data == nullptr) {
      return invalid_argument("rope_freqs.weight: expected " + std::to_string(pairs) +
                              " F32/F16/BF16 factors, got " + std::to_string(rf.elements()) + " of " +
                              std::string(dtype_name(rf.dtype)));
    }
    dequantize(rf.dtype, rf.data, factors.data(), pairs);
  }
  std::vector<float> inv(static_cast<std::size_t>(pairs));
  for (std::int64_t i = 0; i < pairs; ++i) {
    const double base = std::pow(static_cast<double>(config.rope_theta), -2.0 * static_cast<double>(i) /
                                                                           static_cast<double>(dim));
    double factor = factors[static_cast<std::size_t>(i)];
    if (rf.n_dims == 0 && config.rope_scaling == RopeScaling::kLlama3) factor = llama3_freq_factor(config, base);
    inv[static_cast<std::size_t>(i)] = static_cast<float>(base / factor);
  }
  return inv;
}

void rope_cos_sin(std::int64_t pos, const std::vector<float>& inv_freq, float* cs) {
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const double angle = static_cast<double>(pos) * static_cast<double>(inv_freq[i]);
    cs[2 * i] = static_cast<float>(std::cos(angle));
    cs[2 * i + 1] = static_cast<float>(std::sin(angle));
  }
}

void apply_rope(float* x, std::int64_t heads, std::int64_t head_dim, const float* cs, std::int64_t pairs) {
  for (std::int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_dim;
    for (std::int64_t i = 0; i < pairs; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = v[2 * i], x1 = v[2 * i + 1];
      v[2 * i] = x0 * c - x1 * s;
      v[2 * i + 1] = x0 * s + x1 * c;
    }
  }
}

}  // namespace chatscale::engine::cpu
