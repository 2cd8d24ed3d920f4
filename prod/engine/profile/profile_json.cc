#include "prod/engine/profile/profile_json.h"

#include <cstdio>

namespace chatscale::engine {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

// Writes `"name": {entries}` where entries are already `"key": value` strings.
std::string table(const std::string& indent, const std::string& name, const std::vector<std::string>& entries) {
  std::string out = indent + quote(name) + ": {";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    out += (i ? ",\n" : "\n") + indent + " " + entries[i];
  }
  return out + (entries.empty() ? "}" : "\n" + indent + "}");
}

std::string model_object(const ProfileResult& r, const std::string& name) {
  const LlamaConfig& c = r.config;
  std::vector<std::string> prefill, decode, head, decode_it, prefill_it, clamped;
  for (const ProfilePoint& p : r.points) {
    if (p.phase == ProfilePhase::kDecode) {
      decode.push_back(quote(p.key()) + ": " + number(p.layer_ms));
      decode_it.push_back(quote(p.key()) + ": " + number(p.with_head_ms));
    } else {
      if (p.batch == 1) prefill.push_back(quote(std::to_string(p.length)) + ": " + number(p.layer_ms));
      prefill_it.push_back(quote(p.key()) + ": " + number(p.with_head_ms));
    }
  }
  for (const LmHeadPoint& h : r.lm_head) {
    head.push_back(quote(std::to_string(h.batch)) + ": " + number(h.ms));
    if (h.clamped) clamped.push_back(std::to_string(h.batch));
  }
  std::string out = "  " + quote(name) + ": {\n";
  out += "   \"shape\": {\"hid\": " + std::to_string(c.hidden) + ", \"hq\": " + std::to_string(c.heads) +
         ", \"hkv\": " + std::to_string(c.kv_heads) + ", \"d\": " + std::to_string(c.head_dim) +
         ", \"ffn\": " + std::to_string(c.ffn) + ", \"layers\": " + std::to_string(c.layers) +
         ", \"vocab\": " + std::to_string(c.vocab) + "},\n";
  out += table("   ", "prefill_layer_ms", prefill) + ",\n";
  out += table("   ", "decode_layer_ms", decode) + ",\n";
  out += table("   ", "lm_head_ms", head) + ",\n";
  out += table("   ", "decode_iteration_ms", decode_it) + ",\n";
  out += table("   ", "prefill_iteration_ms", prefill_it) + ",\n";
  out += "   \"lm_head_clamped\": [";
  for (std::size_t i = 0; i < clamped.size(); ++i) out += (i ? ", " : "") + clamped[i];
  return out + "]\n  }";
}

}  // namespace

int weight_dtype_bytes(const LlamaWeights& weights) {
  if (weights.layers.empty()) return 2;
  switch (weights.layers[0].wq.dtype) {
    case DType::kF32:
      return 4;
    case DType::kQ8_0:
      return 1;
    default:
      return 2;
  }
}

std::string profile_json(const ProfileResult& r, const std::string& model_name, int dtype_bytes,
                         const std::string& measured_with) {
  const DeviceDescription& d = r.device;
  std::string out = "{\n";
  out += " \"format\": \"chatscale-gpu-profile/1\",\n";
  out += " \"gpu\": " + quote(d.name) + ",\n";
  out += " \"measured_with\": " + quote(measured_with) + ",\n";
  out += " \"hbm_copy_TBps\": " + number(d.copy_bytes_per_s / 1e12) + ",\n";
  out += " \"gemm_8192_bf16_TFLOPs\": " + number(d.peak_flops / 1e12) + ",\n";
  if (d.memory_bytes > 0) out += " \"memory_GB\": " + number(d.memory_bytes / 1e9) + ",\n";
  out += " \"dtype_bytes\": " + std::to_string(dtype_bytes) + ",\n";
  out += " \"device\": {\"kind\": " + quote(d.kind) + ", \"threads\": " + std::to_string(d.threads) +
         ", \"copy_GBps\": " + number(d.copy_bytes_per_s / 1e9) + ", \"peak_GFLOPs\": " + number(d.peak_flops / 1e9) +
         ", \"flops_method\": " + quote(d.flops_method) + ", \"kv_dtype\": " + quote(d.kv_dtype) + "},\n";
  out += " \"profiler\": {\"repeats\": " + std::to_string(r.grid.repeats) + ", \"warmup\": " +
         std::to_string(r.grid.warmup) + ", \"statistic\": \"median\", \"block_size\": " +
         std::to_string(r.block_size) + ", \"kv_fill\": \"random K/V written into the cache, no prefill\"},\n";
  out += " \"models\": {\n" + model_object(r, model_name) + "\n }\n}\n";
  return out;
}

}  // namespace chatscale::engine
