#include "prod/engine/cpu/weights_check.h"

#include <string>

namespace chatscale::engine::cpu {
namespace {

Status check_tensor(const TensorView& t, const std::string& name, std::int64_t d0, std::int64_t d1) {
  const std::string want = "{" + std::to_string(d0) + (d1 > 0 ? ", " + std::to_string(d1) : "") + "}";
  if (t.data == nullptr) return invalid_argument(name + ": missing (expected dims " + want + ")");
  if (!dtype_known(static_cast<std::uint32_t>(t.dtype))) return invalid_argument(name + ": unknown dtype");
  const std::int64_t rows = d1 > 0 ? d1 : 1;
  if (t.dims[0] != d0 || t.rows() != rows) {
    return invalid_argument(name + ": dims {" + std::to_string(t.dims[0]) + ", " + std::to_string(t.rows()) +
                            "}, expected " + want);
  }
  if (t.dims[0] % dtype_block_elems(t.dtype) != 0) {
    return invalid_argument(name + ": row of " + std::to_string(t.dims[0]) + " elements is not a whole number of " +
                            std::string(dtype_name(t.dtype)) + " blocks");
  }
  return {};
}

}  // namespace

Status check_llama_weights(const LlamaConfig& c, const LlamaWeights& w) {
  if (c.vocab <= 0 || c.hidden <= 0 || c.layers <= 0 || c.heads <= 0 || c.kv_heads <= 0 || c.head_dim <= 0 ||
      c.ffn <= 0) {
    return invalid_argument("LlamaConfig: vocab, hidden, layers, heads, kv_heads, head_dim and ffn must be positive");
  }
  if (c.heads % c.kv_heads != 0) {
    return invalid_argument("LlamaConfig: heads " + std::to_string(c.heads) + " is not a multiple of kv_heads " +
                            std::to_string(c.kv_heads));
  }
  if (static_cast<std::int64_t>(w.layers.size()) != c.layers) {
    return invalid_argument("LlamaWeights: " + std::to_string(w.layers.size()) + " layers, config says " +
                            std::to_string(c.layers));
  }
  const std::int64_t qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  CS_RETURN_IF_ERROR(check_tensor(w.token_embd, "token_embd.weight", c.hidden, c.vocab));
  CS_RETURN_IF_ERROR(check_tensor(w.output_norm, "output_norm.weight", c.hidden, 0));
  CS_RETURN_IF_ERROR(check_tensor(w.output, "output.weight", c.hidden, c.vocab));
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const LlamaLayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    CS_RETURN_IF_ERROR(check_tensor(l.attn_norm, p + "attn_norm.weight", c.hidden, 0));
    CS_RETURN_IF_ERROR(check_tensor(l.wq, p + "attn_q.weight", c.hidden, qd));
    CS_RETURN_IF_ERROR(check_tensor(l.wk, p + "attn_k.weight", c.hidden, kvd));
    CS_RETURN_IF_ERROR(check_tensor(l.wv, p + "attn_v.weight", c.hidden, kvd));
    CS_RETURN_IF_ERROR(check_tensor(l.wo, p + "attn_output.weight", qd, c.hidden));
    CS_RETURN_IF_ERROR(check_tensor(l.ffn_norm, p + "ffn_norm.weight", c.hidden, 0));
    CS_RETURN_IF_ERROR(check_tensor(l.w_gate, p + "ffn_gate.weight", c.hidden, c.ffn));
    CS_RETURN_IF_ERROR(check_tensor(l.w_up, p + "ffn_up.weight", c.hidden, c.ffn));
    CS_RETURN_IF_ERROR(check_tensor(l.w_down, p + "ffn_down.weight", c.ffn, c.hidden));
  }
  return {};
}

}  // namespace chatscale::engine::cpu
