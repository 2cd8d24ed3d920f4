// LlamaShape: the hyper-parameters of a Llama-family model as a SHAPE.yaml file gives them (the
// MODEL.yaml keys of `chatscale gpu predict`: hidden, heads, kv_heads, head_dim, ffn, layers, vocab,
// dtype_bytes; optional name, context_length, rope_theta, rms_eps, rope_scaling: llama3|none,
// rope_factor, rope_low_freq_factor, rope_high_freq_factor, rope_original_context, and
// tensor_parallel / max_context_tokens, accepted and ignored), and its hand-written parser: flat
// `key: value` lines, `#` comments, blank lines. Unknown or repeated keys, missing required keys and
// bad values are kInvalidArgument naming file:line. Values; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

struct LlamaShape {
  std::string name = "random-llama";
  std::int64_t hidden = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t ffn = 0;
  std::int64_t layers = 0;
  std::int64_t vocab = 0;
  std::int64_t dtype_bytes = 2;  // default projection dtype: 4 f32, 2 bf16, 1 q8_0
  std::int64_t context_length = 2048;
  double rope_theta = 500000.0;
  double rms_eps = 1e-5;
  RopeScaling rope_scaling = RopeScaling::kNone;
  double rope_factor = 8.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  std::int64_t rope_original_context = 8192;
};

// Parses SHAPE.yaml text; `file` names it in errors.
Result<LlamaShape> parse_shape(std::string_view text, const std::string& file);
// Reads and parses a file.
Result<LlamaShape> read_shape_file(const std::string& path);
// Consistency checks (heads divisible by kv_heads, positive sizes, ...); `file` names it in errors.
Status validate_shape(const LlamaShape& s, const std::string& file);
// The LlamaConfig a model of this shape has.
LlamaConfig shape_config(const LlamaShape& s);

}  // namespace chatscale::engine
