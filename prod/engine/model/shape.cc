// SHAPE.yaml parser. See shape.h.
#include "prod/engine/model/shape.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace chatscale::engine {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_int(std::string_view v, std::int64_t* out) {
  const auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

bool parse_double(std::string_view v, double* out) {
  // from_chars for double exists in GCC 11+; accept plain decimal and exponent forms.
  const auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size() && std::isfinite(*out);
}

struct LineCtx {
  const std::string& file;
  int line;
  Status error(const std::string& what) const { return invalid_argument(file + ":" + std::to_string(line) + ": " + what); }
};

Status set_key(LlamaShape& s, std::string_view key, std::string_view v, const LineCtx& at) {
  struct IntKey { const char* name; std::int64_t LlamaShape::*field; std::int64_t min; };
  static const IntKey kInts[] = {
      {"hidden", &LlamaShape::hidden, 1}, {"heads", &LlamaShape::heads, 1}, {"kv_heads", &LlamaShape::kv_heads, 1},
      {"head_dim", &LlamaShape::head_dim, 1}, {"ffn", &LlamaShape::ffn, 1}, {"layers", &LlamaShape::layers, 1},
      {"vocab", &LlamaShape::vocab, 1}, {"dtype_bytes", &LlamaShape::dtype_bytes, 1},
      {"context_length", &LlamaShape::context_length, 1}, {"rope_original_context", &LlamaShape::rope_original_context, 1}};
  for (const IntKey& k : kInts) {
    if (key != k.name) continue;
    std::int64_t x = 0;
    if (!parse_int(v, &x)) return at.error(std::string(key) + ": expected an integer, got \"" + std::string(v) + "\"");
    if (x < k.min) return at.error(std::string(key) + ": must be at least " + std::to_string(k.min));
    if (x > (std::int64_t{1} << 40)) return at.error(std::string(key) + ": " + std::to_string(x) + " is too large");
    s.*k.field = x;
    return Status::ok();
  }
  struct NumKey { const char* name; double LlamaShape::*field; };
  static const NumKey kNums[] = {{"rope_theta", &LlamaShape::rope_theta}, {"rms_eps", &LlamaShape::rms_eps},
                                 {"rope_factor", &LlamaShape::rope_factor},
                                 {"rope_low_freq_factor", &LlamaShape::rope_low_freq_factor},
                                 {"rope_high_freq_factor", &LlamaShape::rope_high_freq_factor}};
  for (const NumKey& k : kNums) {
    if (key != k.name) continue;
    double x = 0;
    if (!parse_double(v, &x) || x <= 0) return at.error(std::string(key) + ": expected a positive number, got \"" + std::string(v) + "\"");
    s.*k.field = x;
    return Status::ok();
  }
  if (key == "name") {
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    s.name = std::string(v);
    return Status::ok();
  }
  if (key == "rope_scaling") {
    if (v == "llama3") s.rope_scaling = RopeScaling::kLlama3;
    else if (v == "none") s.rope_scaling = RopeScaling::kNone;
    else return at.error("rope_scaling: expected llama3 or none, got \"" + std::string(v) + "\"");
    return Status::ok();
  }
  if (key == "tensor_parallel" || key == "max_context_tokens") return Status::ok();  // gpu predict's keys
  return at.error("unknown key \"" + std::string(key) + "\"");
}

}  // namespace

Result<LlamaShape> parse_shape(std::string_view text, const std::string& file) {
  LlamaShape s;
  std::set<std::string, std::less<>> seen;
  int line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    const LineCtx at{file, line_no};
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return at.error("expected \"key: value\", got \"" + std::string(line) + "\"");
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (value.empty()) return at.error(std::string(key) + ": missing value");
    if (!seen.insert(std::string(key)).second) return at.error("duplicate key \"" + std::string(key) + "\"");
    CS_RETURN_IF_ERROR(set_key(s, key, value, at));
  }
  for (const char* k : {"hidden", "heads", "kv_heads", "head_dim", "ffn", "layers", "vocab"}) {
    if (seen.count(k) == 0) return invalid_argument(file + ": missing required key \"" + k + "\"");
  }
  CS_RETURN_IF_ERROR(validate_shape(s, file));
  return s;
}

Result<LlamaShape> read_shape_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_shape(ss.str(), path);
}

Status validate_shape(const LlamaShape& s, const std::string& file) {
  auto err = [&](const std::string& m) { return invalid_argument(file + ": " + m); };
  if (s.hidden <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.head_dim <= 0 || s.ffn <= 0 || s.layers <= 0 || s.vocab <= 0) {
    return err("hidden, heads, kv_heads, head_dim, ffn, layers and vocab must be positive");
  }
  if (s.heads % s.kv_heads != 0) {
    return err("heads (" + std::to_string(s.heads) + ") must be a multiple of kv_heads (" + std::to_string(s.kv_heads) + ")");
  }
  if (s.head_dim % 2 != 0) return err("head_dim must be even (RoPE rotates pairs)");
  if (s.dtype_bytes != 1 && s.dtype_bytes != 2 && s.dtype_bytes != 4) return err("dtype_bytes must be 1 (q8_0), 2 (bf16) or 4 (f32)");
  return Status::ok();
}

LlamaConfig shape_config(const LlamaShape& s) {
  LlamaConfig c;
  c.vocab = s.vocab;
  c.hidden = s.hidden;
  c.layers = s.layers;
  c.heads = s.heads;
  c.kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.ffn = s.ffn;
  c.context_length = s.context_length;
  c.rms_eps = static_cast<float>(s.rms_eps);
  c.rope_theta = static_cast<float>(s.rope_theta);
  c.rope_dim = s.head_dim;
  c.rope_scaling = s.rope_scaling;
  c.rope_factor = static_cast<float>(s.rope_factor);
  c.rope_low_freq_factor = static_cast<float>(s.rope_low_freq_factor);
  c.rope_high_freq_factor = static_cast<float>(s.rope_high_freq_factor);
  c.rope_original_context = s.rope_original_context;
  return c;
}

}  // namespace chatscale::engine
