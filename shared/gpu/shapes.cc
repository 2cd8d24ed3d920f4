#include "gpu/shapes.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "scenario/yaml_reader.h"

namespace chatscale {
namespace {

Status positive(std::string_view field, std::int64_t value) {
  if (value > 0) return Status::ok();
  return invalid_argument(std::string(field) + ": must be positive, got " + std::to_string(value));
}

// Cross-field checks, reported at the offending field's line ("kv_heads: must divide heads ...").
void report_invalid_shape(YamlDocument& doc, const ModelShape& shape) {
  const Status s = validate_model_shape(shape);
  if (s.is_ok()) return;
  const std::string& m = s.message();
  const std::size_t colon = m.find(':');
  doc.error_at(m.substr(0, colon), m.substr(colon + 2));
}

}  // namespace

double ModelShape::layer_parameters() const {
  const double h = static_cast<double>(hidden);
  const double qkv = h * static_cast<double>((heads + 2 * kv_heads) * head_dim);
  const double out = static_cast<double>(heads * head_dim) * h;
  const double mlp = 3.0 * h * static_cast<double>(ffn);  // gate, up and down
  return qkv + out + mlp;
}

double ModelShape::parameters() const {
  return static_cast<double>(layers) * layer_parameters() + 2.0 * static_cast<double>(vocab * hidden);
}

double ModelShape::kv_bytes_per_token_per_gpu(int tp) const {
  const std::int64_t local_kv = std::max<std::int64_t>(1, kv_heads / std::max(1, tp));
  return 2.0 * static_cast<double>(layers * local_kv * head_dim * dtype_bytes);
}

Status validate_model_shape(const ModelShape& s) {
  CS_RETURN_IF_ERROR(positive("hidden", s.hidden));
  CS_RETURN_IF_ERROR(positive("heads", s.heads));
  CS_RETURN_IF_ERROR(positive("kv_heads", s.kv_heads));
  CS_RETURN_IF_ERROR(positive("head_dim", s.head_dim));
  CS_RETURN_IF_ERROR(positive("ffn", s.ffn));
  CS_RETURN_IF_ERROR(positive("layers", s.layers));
  CS_RETURN_IF_ERROR(positive("vocab", s.vocab));
  if (s.heads % s.kv_heads != 0) {
    return invalid_argument("kv_heads: must divide heads (" + std::to_string(s.heads) + "), got " +
                            std::to_string(s.kv_heads));
  }
  if (s.dtype_bytes != 1 && s.dtype_bytes != 2 && s.dtype_bytes != 4) {
    return invalid_argument("dtype_bytes: must be 1, 2 or 4, got " + std::to_string(s.dtype_bytes));
  }
  return Status::ok();
}

Status check_tensor_parallel(const ModelShape& s, int tp) {
  if (tp < 1) return invalid_argument("tp: must be at least 1, got " + std::to_string(tp));
  if (s.heads % tp != 0 || s.ffn % tp != 0) {
    return invalid_argument("tp: must divide heads (" + std::to_string(s.heads) + ") and ffn (" +
                            std::to_string(s.ffn) + "), got " + std::to_string(tp));
  }
  if (s.kv_heads % tp != 0 && tp % s.kv_heads != 0) {
    return invalid_argument("tp: must divide kv_heads (" + std::to_string(s.kv_heads) +
                            ") or be a multiple of it, got " + std::to_string(tp));
  }
  return Status::ok();
}

Result<ModelShape> parse_model_shape(std::string_view yaml, const std::string& filename) {
  YamlDocument doc(filename);
  ModelShape shape;
  if (doc.load(yaml)) {
    read_root(doc, [&](YamlMap& m) {
      m.require({"hidden", "heads", "kv_heads", "head_dim", "ffn", "layers", "vocab"});
      m.text("name", shape.name);
      m.integer("hidden", shape.hidden, Range::positive());
      m.integer("heads", shape.heads, Range::positive());
      m.integer("kv_heads", shape.kv_heads, Range::positive());
      m.integer("head_dim", shape.head_dim, Range::positive());
      m.integer("ffn", shape.ffn, Range::positive());
      m.integer("layers", shape.layers, Range::positive());
      m.integer("vocab", shape.vocab, Range::positive());
      m.integer("dtype_bytes", shape.dtype_bytes, Range::between(1, 4));
    });
    if (!doc.has_errors()) report_invalid_shape(doc, shape);
  }
  if (doc.has_errors()) return doc.status();
  return shape;
}

Result<ModelShape> load_model_shape_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_model_shape(text.str(), path);
}

double tensor_flops(const GpuSpecs& gpu, std::int64_t dtype_bytes) {
  return gpu.dense_bf16_flops * 2.0 / static_cast<double>(std::max<std::int64_t>(1, dtype_bytes));
}

std::int64_t kv_capacity_tokens(const ModelShape& shape, const GpuSpecs& gpu, int tp, double usable_fraction) {
  const double weights = shape.parameters() * static_cast<double>(shape.dtype_bytes) / std::max(1, tp);
  const double free_bytes = gpu.memory_bytes * usable_fraction - weights;
  if (free_bytes <= 0) return 0;
  return static_cast<std::int64_t>(free_bytes / shape.kv_bytes_per_token_per_gpu(tp));
}

IterationShape IterationShape::decode(std::int64_t batch, std::int64_t context) {
  IterationShape it;
  it.decode_contexts.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, batch)), context);
  return it;
}

IterationShape IterationShape::prefill(std::int64_t batch, std::int64_t tokens) {
  IterationShape it;
  it.prefills.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, batch)), PrefillWork{tokens, 0});
  return it;
}

std::int64_t IterationShape::tokens() const {
  std::int64_t n = static_cast<std::int64_t>(decode_contexts.size());
  for (const PrefillWork& c : prefills) n += std::max<std::int64_t>(0, c.tokens);
  return n;
}

std::int64_t IterationShape::logit_rows() const {
  return static_cast<std::int64_t>(decode_contexts.size() + prefills.size());
}

}  // namespace chatscale
