// Random-weight model writer. See random_model.h.
#include "prod/engine/model/random_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "prod/engine/gguf/gguf.h"
#include "prod/engine/model/bpe_vocab.h"
#include "prod/engine/model/llama_loader.h"

namespace chatscale::engine {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One row of approximately normal values (sum of four 16-bit uniforms, variance matched).
void random_row(std::uint64_t seed, std::uint64_t tensor, std::uint64_t row, float stddev, float* out, std::int64_t n) {
  std::uint64_t s = seed * 0x632be59bd9b4e019ull ^ (tensor + 1) * 0x9e3779b97f4a7c15ull ^ row * 0xd1b54a32d192ed03ull;
  splitmix64(s);
  const float scale = stddev * std::sqrt(3.0f) / 65536.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t r = splitmix64(s);
    const float sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48)) - 131070.0f;
    out[i] = sum * scale;
  }
}

void encode_row(DType t, const float* x, std::int64_t n, std::uint8_t* out) {
  switch (t) {
    case DType::kF32: std::memcpy(out, x, static_cast<std::size_t>(n) * 4); return;
    case DType::kF16:
    case DType::kBF16:
      for (std::int64_t i = 0; i < n; ++i) {
        const std::uint16_t h = t == DType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0:
      for (std::int64_t b = 0; b < n / kQ8BlockSize; ++b) {
        const BlockQ8_0 q = quantize_q8_0(x + b * kQ8BlockSize);
        std::memcpy(out + b * static_cast<std::int64_t>(sizeof(BlockQ8_0)), &q, sizeof(BlockQ8_0));
      }
      return;
  }
}

GgufWriter::RowProducer random_producer(DType dtype, std::int64_t cols, std::uint64_t seed, std::uint64_t tensor,
                                        float stddev, int threads) {
  return [=](std::int64_t first, std::int64_t n, std::uint8_t* out) {
    const std::int64_t row_bytes = dtype_bytes(dtype, cols);
    auto work = [&](std::int64_t lo, std::int64_t hi) {
      std::vector<float> row(static_cast<std::size_t>(cols));
      for (std::int64_t r = lo; r < hi; ++r) {
        random_row(seed, tensor, static_cast<std::uint64_t>(first + r), stddev, row.data(), cols);
        encode_row(dtype, row.data(), cols, out + r * row_bytes);
      }
    };
    const std::int64_t t = std::min<std::int64_t>(threads, std::max<std::int64_t>(1, n * cols / 65536));
    if (t <= 1) {
      work(0, n);
      return Status::ok();
    }
    std::vector<std::thread> pool;
    for (std::int64_t k = 0; k < t; ++k) pool.emplace_back(work, n * k / t, n * (k + 1) / t);
    for (std::thread& th : pool) th.join();
    return Status::ok();
  };
}

GgufWriter::RowProducer constant_producer(std::int64_t cols, std::vector<float> values) {
  return [cols, values = std::move(values)](std::int64_t first, std::int64_t n, std::uint8_t* out) {
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t i = 0; i < cols; ++i) {
        const float v = values.size() == 1 ? values[0] : values[static_cast<std::size_t>((first + r) * cols + i)];
        std::memcpy(out + (r * cols + i) * 4, &v, 4);
      }
    }
    return Status::ok();
  };
}

std::uint32_t file_type_of(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
  }
  return 0;
}

Status add_tokenizer(GgufWriter& w, const LlamaShape& shape, const RandomModelOptions& o) {
  if (o.vocab_path.empty()) {
    CS_ASSIGN_OR_RETURN(BpeVocab v, build_bpe_vocab(shape.vocab));
    add_bpe_tokenizer(w, v);
    return Status::ok();
  }
  CS_ASSIGN_OR_RETURN(GgufFile vf, GgufFile::open(o.vocab_path));
  const GgufValue* toks = vf.find("tokenizer.ggml.tokens");
  if (toks == nullptr || !toks->is_array()) return invalid_argument(o.vocab_path + ": no tokenizer.ggml.tokens array");
  if (static_cast<std::int64_t>(toks->count) != shape.vocab) {
    return invalid_argument(o.vocab_path + ": vocabulary of " + std::to_string(toks->count) + " tokens, but the shape's vocab is " +
                            std::to_string(shape.vocab) + " (set vocab: " + std::to_string(toks->count) + " in the shape)");
  }
  for (const GgufKv& kv : vf.metadata()) {
    if (kv.key.rfind("tokenizer.", 0) == 0) w.add_value(kv.key, kv.value);
  }
  return Status::ok();
}

void add_config(GgufWriter& w, const LlamaShape& s, DType dtype) {
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", s.name);
  w.add_u32("general.file_type", file_type_of(dtype));
  w.add_u32("llama.context_length", static_cast<std::uint32_t>(s.context_length));
  w.add_u32("llama.embedding_length", static_cast<std::uint32_t>(s.hidden));
  w.add_u32("llama.block_count", static_cast<std::uint32_t>(s.layers));
  w.add_u32("llama.feed_forward_length", static_cast<std::uint32_t>(s.ffn));
  w.add_u32("llama.attention.head_count", static_cast<std::uint32_t>(s.heads));
  w.add_u32("llama.attention.head_count_kv", static_cast<std::uint32_t>(s.kv_heads));
  w.add_u32("llama.attention.key_length", static_cast<std::uint32_t>(s.head_dim));
  w.add_u32("llama.attention.value_length", static_cast<std::uint32_t>(s.head_dim));
  w.add_f32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(s.rms_eps));
  w.add_f32("llama.rope.freq_base", static_cast<float>(s.rope_theta));
  w.add_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(s.head_dim));
  w.add_u32("llama.vocab_size", static_cast<std::uint32_t>(s.vocab));
}

}  // namespace

DType shape_default_dtype(const LlamaShape& shape) {
  return shape.dtype_bytes == 4 ? DType::kF32 : shape.dtype_bytes == 1 ? DType::kQ8_0 : DType::kBF16;
}

Result<DType> parse_dtype(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "f32") return DType::kF32;
  if (n == "f16") return DType::kF16;
  if (n == "bf16") return DType::kBF16;
  if (n == "q8_0") return DType::kQ8_0;
  return invalid_argument("unknown dtype \"" + std::string(name) + "\" (expected f32, f16, bf16 or q8_0)");
}

Status write_random_model(const LlamaShape& s, const RandomModelOptions& o, const std::string& path) {
  CS_RETURN_IF_ERROR(validate_shape(s, "shape"));
  const std::int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  if (o.dtype == DType::kQ8_0 && (s.hidden % kQ8BlockSize != 0 || q % kQ8BlockSize != 0 || s.ffn % kQ8BlockSize != 0)) {
    return invalid_argument("q8_0 needs hidden, heads * head_dim and ffn to be multiples of 32");
  }
  GgufWriter w;
  add_config(w, s, o.dtype);
  CS_RETURN_IF_ERROR(add_tokenizer(w, s, o));
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::uint64_t id = 0;
  auto proj = [&](const std::string& name, std::int64_t in, std::int64_t out) {
    w.add_tensor(name, o.dtype, {in, out}, random_producer(o.dtype, in, o.seed, id++, o.stddev, threads));
  };
  auto norm = [&](const std::string& name) { w.add_tensor(name, DType::kF32, {s.hidden}, constant_producer(s.hidden, {1.0f})); };
  proj("token_embd.weight", s.hidden, s.vocab);
  norm("output_norm.weight");
  if (!o.tied) proj("output.weight", s.hidden, s.vocab);
  if (s.rope_scaling == RopeScaling::kLlama3) {
    w.add_tensor("rope_freqs.weight", DType::kF32, {s.head_dim / 2}, constant_producer(s.head_dim / 2, llama3_rope_factors(shape_config(s))));
  }
  for (std::int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    proj(p + "attn_q.weight", s.hidden, q);
    proj(p + "attn_k.weight", s.hidden, kv);
    proj(p + "attn_v.weight", s.hidden, kv);
    proj(p + "attn_output.weight", q, s.hidden);
    norm(p + "ffn_norm.weight");
    proj(p + "ffn_gate.weight", s.hidden, s.ffn);
    proj(p + "ffn_up.weight", s.hidden, s.ffn);
    proj(p + "ffn_down.weight", s.ffn, s.hidden);
  }
  return w.write(path);
}

}  // namespace chatscale::engine
