// Llama config and weights from GGUF. See llama_loader.h.
#include "prod/engine/model/llama_loader.h"

#include <cmath>
#include <numbers>
#include <string>

namespace chatscale::engine {

namespace {

Result<std::int64_t> get_pos(const GgufFile& f, const std::string& key) {
  CS_ASSIGN_OR_RETURN(std::int64_t v, f.get_i64(key));
  if (v <= 0) return invalid_argument(f.path() + ": metadata key \"" + key + "\": expected a positive integer, got " + std::to_string(v));
  return v;
}

Result<std::int64_t> get_pos_or(const GgufFile& f, const std::string& key, std::int64_t fallback) {
  if (!f.has(key)) return fallback;
  return get_pos(f, key);
}

Result<float> get_f32_or(const GgufFile& f, const std::string& key, float fallback) {
  if (!f.has(key)) return fallback;
  return f.get_f32(key);
}

std::string dims_text(const TensorView& v) {
  std::string s = "{";
  for (int i = 0; i < v.n_dims; ++i) s += (i ? ", " : "") + std::to_string(v.dims[i]);
  return s + "}";
}

Status read_rope(const GgufFile& f, LlamaConfig& c) {
  CS_ASSIGN_OR_RETURN(c.rope_theta, get_f32_or(f, "llama.rope.freq_base", 10000.0f));
  CS_ASSIGN_OR_RETURN(c.rope_dim, get_pos_or(f, "llama.rope.dimension_count", c.head_dim));
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    return invalid_argument(f.path() + ": llama.rope.dimension_count " + std::to_string(c.rope_dim) +
                            " must be even and at most the head dimension " + std::to_string(c.head_dim));
  }
  if (const GgufValue* t = f.find("llama.rope.scaling.type"); t != nullptr && t->type == GgufType::kString && t->str == "llama3") {
    c.rope_scaling = RopeScaling::kLlama3;
    CS_ASSIGN_OR_RETURN(c.rope_factor, get_f32_or(f, "llama.rope.scaling.factor", c.rope_factor));
    CS_ASSIGN_OR_RETURN(c.rope_low_freq_factor, get_f32_or(f, "llama.rope.scaling.low_freq_factor", c.rope_low_freq_factor));
    CS_ASSIGN_OR_RETURN(c.rope_high_freq_factor, get_f32_or(f, "llama.rope.scaling.high_freq_factor", c.rope_high_freq_factor));
    CS_ASSIGN_OR_RETURN(c.rope_original_context,
                        get_pos_or(f, "llama.rope.scaling.original_context_length", c.rope_original_context));
  }
  return Status::ok();
}

// Fetches a tensor and checks its dims and dtype.
Result<TensorView> expect_tensor(const GgufFile& f, const std::string& name, std::vector<std::int64_t> dims, bool norm) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) return invalid_argument(f.path() + ": missing tensor \"" + name + "\"");
  TensorView want;
  want.n_dims = static_cast<int>(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) want.dims[i] = dims[i];
  const TensorView& v = t->view;
  if (v.n_dims != want.n_dims || v.dims != want.dims) {
    return invalid_argument(f.path() + ": tensor \"" + name + "\": expected dims " + dims_text(want) + ", got " + dims_text(v));
  }
  if (norm && v.dtype != DType::kF32) {
    return invalid_argument(f.path() + ": tensor \"" + name + "\": expected F32, got " + std::string(dtype_name(v.dtype)));
  }
  return v;
}

}  // namespace

Result<LlamaConfig> read_llama_config(const GgufFile& f) {
  const GgufValue* arch = f.find("general.architecture");
  if (arch == nullptr) return invalid_argument(f.path() + ": missing metadata key \"general.architecture\" (expected \"llama\")");
  if (arch->type != GgufType::kString || arch->str != "llama") {
    return invalid_argument(f.path() + ": general.architecture is \"" + std::string(arch->str) +
                            "\"; only \"llama\" models are supported");
  }
  LlamaConfig c;
  CS_ASSIGN_OR_RETURN(c.context_length, get_pos(f, "llama.context_length"));
  CS_ASSIGN_OR_RETURN(c.hidden, get_pos(f, "llama.embedding_length"));
  CS_ASSIGN_OR_RETURN(c.layers, get_pos(f, "llama.block_count"));
  CS_ASSIGN_OR_RETURN(c.ffn, get_pos(f, "llama.feed_forward_length"));
  CS_ASSIGN_OR_RETURN(c.heads, get_pos(f, "llama.attention.head_count"));
  CS_ASSIGN_OR_RETURN(c.kv_heads, get_pos_or(f, "llama.attention.head_count_kv", c.heads));
  if (c.heads % c.kv_heads != 0) {
    return invalid_argument(f.path() + ": llama.attention.head_count " + std::to_string(c.heads) +
                            " is not a multiple of head_count_kv " + std::to_string(c.kv_heads));
  }
  if (c.layers > 100000 || c.hidden > (std::int64_t{1} << 24)) return invalid_argument(f.path() + ": implausible model size");
  const std::int64_t default_head_dim = c.hidden / c.heads;
  CS_ASSIGN_OR_RETURN(c.head_dim, get_pos_or(f, "llama.attention.key_length", default_head_dim));
  if (c.head_dim <= 0) return invalid_argument(f.path() + ": head dimension is 0 (embedding_length < head_count)");
  CS_ASSIGN_OR_RETURN(c.rms_eps, get_f32_or(f, "llama.attention.layer_norm_rms_epsilon", 1e-5f));
  CS_RETURN_IF_ERROR(read_rope(f, c));
  if (f.has("llama.vocab_size")) {
    CS_ASSIGN_OR_RETURN(c.vocab, get_pos(f, "llama.vocab_size"));
  } else if (const GgufValue* toks = f.find("tokenizer.ggml.tokens"); toks != nullptr && toks->is_array()) {
    c.vocab = static_cast<std::int64_t>(toks->count);
  } else {
    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    if (embd == nullptr || embd->view.n_dims != 2) {
      return invalid_argument(f.path() + ": no vocabulary size (llama.vocab_size or tokenizer.ggml.tokens)");
    }
    c.vocab = embd->view.dims[1];
  }
  return c;
}

Result<LlamaModel> load_llama(const GgufFile& f) {
  LlamaModel m{f, {}, {}, false};
  CS_ASSIGN_OR_RETURN(m.config, read_llama_config(f));
  const LlamaConfig& c = m.config;
  LlamaWeights& w = m.weights;
  const std::int64_t q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  CS_ASSIGN_OR_RETURN(w.token_embd, expect_tensor(f, "token_embd.weight", {c.hidden, c.vocab}, false));
  CS_ASSIGN_OR_RETURN(w.output_norm, expect_tensor(f, "output_norm.weight", {c.hidden}, true));
  m.tied_output = f.find_tensor("output.weight") == nullptr;
  if (m.tied_output) {
    w.output = w.token_embd;
  } else {
    CS_ASSIGN_OR_RETURN(w.output, expect_tensor(f, "output.weight", {c.hidden, c.vocab}, false));
  }
  if (f.find_tensor("rope_freqs.weight") != nullptr) {
    CS_ASSIGN_OR_RETURN(w.rope_freqs, expect_tensor(f, "rope_freqs.weight", {c.rope_dim / 2}, true));
  }
  w.layers.resize(static_cast<std::size_t>(c.layers));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    LlamaLayerWeights& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    CS_ASSIGN_OR_RETURN(L.attn_norm, expect_tensor(f, p + "attn_norm.weight", {c.hidden}, true));
    CS_ASSIGN_OR_RETURN(L.wq, expect_tensor(f, p + "attn_q.weight", {c.hidden, q}, false));
    CS_ASSIGN_OR_RETURN(L.wk, expect_tensor(f, p + "attn_k.weight", {c.hidden, kv}, false));
    CS_ASSIGN_OR_RETURN(L.wv, expect_tensor(f, p + "attn_v.weight", {c.hidden, kv}, false));
    CS_ASSIGN_OR_RETURN(L.wo, expect_tensor(f, p + "attn_output.weight", {q, c.hidden}, false));
    CS_ASSIGN_OR_RETURN(L.ffn_norm, expect_tensor(f, p + "ffn_norm.weight", {c.hidden}, true));
    CS_ASSIGN_OR_RETURN(L.w_gate, expect_tensor(f, p + "ffn_gate.weight", {c.hidden, c.ffn}, false));
    CS_ASSIGN_OR_RETURN(L.w_up, expect_tensor(f, p + "ffn_up.weight", {c.hidden, c.ffn}, false));
    CS_ASSIGN_OR_RETURN(L.w_down, expect_tensor(f, p + "ffn_down.weight", {c.ffn, c.hidden}, false));
  }
  return m;
}

Result<LlamaModel> load_llama_file(const std::string& path) {
  CS_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(path));
  return load_llama(f);
}

std::vector<float> llama3_rope_factors(const LlamaConfig& c) {
  const std::int64_t n = c.rope_dim / 2;
  std::vector<float> out(static_cast<std::size_t>(n), 1.0f);
  const double orig = static_cast<double>(c.rope_original_context);
  const double low = c.rope_low_freq_factor, high = c.rope_high_freq_factor, factor = c.rope_factor;
  const double low_wavelen = orig / low, high_wavelen = orig / high;
  for (std::int64_t i = 0; i < n; ++i) {
    const double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * static_cast<double>(i) / static_cast<double>(c.rope_dim));
    const double wavelen = 2.0 * std::numbers::pi / inv_freq;
    double f = 1.0;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = factor;
    } else {
      const double smooth = (orig / wavelen - low) / (high - low);
      const double scaled = (1.0 - smooth) * inv_freq / factor + smooth * inv_freq;
      f = inv_freq / scaled;
    }
    out[static_cast<std::size_t>(i)] = static_cast<float>(f);
  }
  return out;
}

std::vector<float> rope_freq_factors(const LlamaConfig& c, const LlamaWeights& w) {
  if (w.rope_freqs.n_dims > 0 && w.rope_freqs.data != nullptr) {
    std::vector<float> out(static_cast<std::size_t>(w.rope_freqs.elements()));
    dequantize(w.rope_freqs.dtype, w.rope_freqs.data, out.data(), w.rope_freqs.elements());
    return out;
  }
  if (c.rope_scaling == RopeScaling::kLlama3) return llama3_rope_factors(c);
  return std::vector<float>(static_cast<std::size_t>(c.rope_dim / 2), 1.0f);
}

}  // namespace chatscale::engine
