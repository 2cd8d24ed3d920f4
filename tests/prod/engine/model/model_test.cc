// Random models written and loaded back: config, every tensor's dims and dtype, tied/untied output,
// Q8_0/BF16 values against the F32 model of the same seed, --vocab copying, Llama-3 RoPE factors, and
// the loader's specific errors (architecture, missing tensor, wrong dims, non-F32 norm).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "prod/engine/gguf/gguf.h"
#include "prod/engine/model/bpe_vocab.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/model/model_command.h"
#include "prod/engine/model/random_model.h"
#include "tests/prod/engine/model/test_dir.h"

namespace chatscale::engine {
namespace {

using testing::TempDir;

LlamaShape tiny_shape() {
  LlamaShape s;
  s.hidden = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.ffn = 96;
  s.layers = 2;
  s.vocab = 300;
  s.context_length = 256;
  return s;
}

RandomModelOptions opts(DType d, bool tied = true) {
  RandomModelOptions o;
  o.dtype = d;
  o.tied = tied;
  o.seed = 7;
  o.threads = 2;
  return o;
}

void expect_dims(const TensorView& v, std::vector<std::int64_t> dims, DType dtype) {
  ASSERT_EQ(v.n_dims, static_cast<int>(dims.size()));
  for (std::size_t i = 0; i < dims.size(); ++i) EXPECT_EQ(v.dims[i], dims[i]);
  EXPECT_EQ(v.dtype, dtype);
  EXPECT_NE(v.data, nullptr);
}

TEST(RandomModel, LoadsWithConfigAndEveryTensor) {
  TempDir dir;
  const LlamaShape s = tiny_shape();
  ASSERT_TRUE(write_random_model(s, opts(DType::kF16, false), dir.file("m.gguf")).is_ok());
  auto m = load_llama_file(dir.file("m.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  const LlamaConfig& c = m->config;
  EXPECT_EQ(c.vocab, 300);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.ffn, 96);
  EXPECT_EQ(c.context_length, 256);
  EXPECT_EQ(c.rope_dim, 16);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_FALSE(m->tied_output);
  const LlamaWeights& w = m->weights;
  expect_dims(w.token_embd, {64, 300}, DType::kF16);
  expect_dims(w.output, {64, 300}, DType::kF16);
  EXPECT_NE(w.output.data, w.token_embd.data);
  expect_dims(w.output_norm, {64}, DType::kF32);
  EXPECT_EQ(w.rope_freqs.n_dims, 0);
  ASSERT_EQ(w.layers.size(), 2u);
  for (const LlamaLayerWeights& L : w.layers) {
    expect_dims(L.attn_norm, {64}, DType::kF32);
    expect_dims(L.ffn_norm, {64}, DType::kF32);
    expect_dims(L.wq, {64, 64}, DType::kF16);
    expect_dims(L.wk, {64, 32}, DType::kF16);
    expect_dims(L.wv, {64, 32}, DType::kF16);
    expect_dims(L.wo, {64, 64}, DType::kF16);
    expect_dims(L.w_gate, {64, 96}, DType::kF16);
    expect_dims(L.w_up, {64, 96}, DType::kF16);
    expect_dims(L.w_down, {96, 64}, DType::kF16);
    EXPECT_EQ(static_cast<const float*>(L.attn_norm.data)[63], 1.0f);
  }
  // Weights: mean ~0, std ~0.02, deterministic per seed; differ between tensors.
  std::vector<float> x(static_cast<std::size_t>(w.layers[0].w_gate.elements()));
  dequantize(DType::kF16, w.layers[0].w_gate.data, x.data(), w.layers[0].w_gate.elements());
  double sum = 0, sq = 0;
  for (float v : x) { sum += v; sq += static_cast<double>(v) * v; }
  const double mean = sum / static_cast<double>(x.size()), sd = std::sqrt(sq / static_cast<double>(x.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.002);
  EXPECT_NE(std::memcmp(w.layers[0].w_gate.data, w.layers[0].w_up.data, 64), 0);
  // Tokenizer keys are there.
  EXPECT_EQ(m->file.get_string("tokenizer.ggml.model").value(), "gpt2");
  EXPECT_EQ(m->file.get_string("tokenizer.ggml.pre").value(), "llama-bpe");
  EXPECT_EQ(m->file.string_array("tokenizer.ggml.tokens")->size(), 300u);
  EXPECT_EQ(m->file.i32_array("tokenizer.ggml.token_type")->size(), 300u);
  EXPECT_GT(m->file.string_array("tokenizer.ggml.merges")->size(), 0u);
  EXPECT_EQ((*m->file.string_array("tokenizer.ggml.tokens"))[m->file.get_u32("tokenizer.ggml.bos_token_id").value()],
            "<|begin_of_text|>");
  EXPECT_TRUE(m->file.has("tokenizer.chat_template"));
}

TEST(RandomModel, TiedOutputAndSameSeedSameBytes) {
  TempDir dir;
  ASSERT_TRUE(write_random_model(tiny_shape(), opts(DType::kBF16), dir.file("a.gguf")).is_ok());
  RandomModelOptions one_thread = opts(DType::kBF16);
  one_thread.threads = 1;
  ASSERT_TRUE(write_random_model(tiny_shape(), one_thread, dir.file("b.gguf")).is_ok());
  auto a = load_llama_file(dir.file("a.gguf"));
  auto b = load_llama_file(dir.file("b.gguf"));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(a->tied_output);
  EXPECT_EQ(a->weights.output.data, a->weights.token_embd.data);
  EXPECT_EQ(a->file.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(a->file.file_size(), b->file.file_size());
  EXPECT_EQ(std::memcmp(a->weights.layers[1].w_down.data, b->weights.layers[1].w_down.data,
                        static_cast<std::size_t>(a->weights.layers[1].w_down.bytes())), 0);
}

// Q8_0 (and BF16) against the F32 model of the same seed: per element, Q8_0 is within half a
// quantisation step of its block (amax / 254) plus the f16 rounding of the scale; BF16 within 2^-8
// relative.
TEST(RandomModel, QuantisedCloseToF32) {
  TempDir dir;
  ASSERT_TRUE(write_random_model(tiny_shape(), opts(DType::kF32), dir.file("f.gguf")).is_ok());
  ASSERT_TRUE(write_random_model(tiny_shape(), opts(DType::kQ8_0), dir.file("q.gguf")).is_ok());
  ASSERT_TRUE(write_random_model(tiny_shape(), opts(DType::kBF16), dir.file("b.gguf")).is_ok());
  auto f = load_llama_file(dir.file("f.gguf"));
  auto q = load_llama_file(dir.file("q.gguf"));
  auto b = load_llama_file(dir.file("b.gguf"));
  ASSERT_TRUE(f.is_ok() && q.is_ok() && b.is_ok()) << q.status().message();
  const TensorView& fv = f->weights.layers[1].wq;
  const TensorView& qv = q->weights.layers[1].wq;
  ASSERT_EQ(qv.dtype, DType::kQ8_0);
  const std::int64_t n = fv.elements();
  std::vector<float> xf(static_cast<std::size_t>(n)), xq(xf.size()), xb(xf.size());
  dequantize(DType::kF32, fv.data, xf.data(), n);
  dequantize(DType::kQ8_0, qv.data, xq.data(), n);
  dequantize(DType::kBF16, b->weights.layers[1].wq.data, xb.data(), n);
  double max_err = 0;
  for (std::int64_t blk = 0; blk < n / 32; ++blk) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xf[static_cast<std::size_t>(blk * 32 + i)]));
    for (int i = 0; i < 32; ++i) {
      const auto k = static_cast<std::size_t>(blk * 32 + i);
      const double err = std::fabs(xq[k] - xf[k]);
      max_err = std::max(max_err, err);
      EXPECT_LE(err, amax / 254.0 * 1.01 + 1e-3 * amax) << k;
      EXPECT_LE(std::fabs(xb[k] - xf[k]), std::fabs(xf[k]) / 256.0 + 1e-30) << k;
    }
  }
  EXPECT_GT(max_err, 0.0);
  EXPECT_LT(max_err, 3e-4);
}

TEST(RandomModel, Llama3RopeFreqsTensor) {
  TempDir dir;
  LlamaShape s = tiny_shape();
  s.rope_scaling = RopeScaling::kLlama3;
  ASSERT_TRUE(write_random_model(s, opts(DType::kF32), dir.file("r.gguf")).is_ok());
  auto m = load_llama_file(dir.file("r.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  expect_dims(m->weights.rope_freqs, {8}, DType::kF32);
  const std::vector<float> factors = rope_freq_factors(m->config, m->weights);
  EXPECT_EQ(factors, llama3_rope_factors(shape_config(s)));
}

// Hand-computed Llama-3.1 factors: theta 500000, rope_dim 64, factor 8, low 1, high 4, original
// context 8192: wavelen_i = 2 pi * 500000^(2i/64). i=16: wavelen 4442.88, smooth = (8192/4442.88 - 1)/3
// = 0.28129, factor = 1 / ((1 - smooth)/8 + smooth) = 2.69453.
TEST(RopeFactors, Llama31ByHand) {
  LlamaConfig c;
  c.rope_theta = 500000.0f;
  c.rope_dim = 64;
  c.head_dim = 64;
  c.rope_factor = 8.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_original_context = 8192;
  const std::vector<float> f = llama3_rope_factors(c);
  ASSERT_EQ(f.size(), 32u);
  EXPECT_EQ(f[0], 1.0f);    // wavelen 6.28 < 2048
  EXPECT_EQ(f[14], 1.0f);   // wavelen 1956.5 < 2048
  EXPECT_NEAR(f[15], 1.553415f, 1e-4);
  EXPECT_NEAR(f[16], 2.694530f, 1e-4);
  EXPECT_NEAR(f[17], 5.257327f, 1e-4);
  EXPECT_EQ(f[18], 8.0f);   // wavelen 10089 > 8192
  EXPECT_EQ(f[31], 8.0f);
  LlamaWeights none;
  c.rope_scaling = RopeScaling::kNone;
  EXPECT_EQ(rope_freq_factors(c, none), std::vector<float>(32, 1.0f));
  c.rope_scaling = RopeScaling::kLlama3;
  EXPECT_EQ(rope_freq_factors(c, none), f);
}

// Copies `src` to `dst` through GgufWriter, letting `edit` change metadata or tensors.
struct Rewrite {
  std::function<bool(const std::string& key)> drop_key = [](const std::string&) { return false; };
  std::function<void(GgufWriter&)> add_keys = [](GgufWriter&) {};
  std::string drop_tensor;
  std::string reshape_tensor;  // written with dims[1] halved... see below
  std::string retype_tensor;   // written as F16
};

void rewrite(const std::string& src, const std::string& dst, const Rewrite& r) {
  auto f = GgufFile::open(src);
  ASSERT_TRUE(f.is_ok());
  GgufWriter w;
  for (const GgufKv& kv : f->metadata())
    if (!r.drop_key(kv.key)) w.add_value(kv.key, kv.value);
  r.add_keys(w);
  for (const GgufTensorInfo& t : f->tensors()) {
    if (t.name == r.drop_tensor) continue;
    std::vector<std::int64_t> dims(t.view.dims.begin(), t.view.dims.begin() + t.view.n_dims);
    const auto* p = static_cast<const std::uint8_t*>(t.view.data);
    std::vector<std::uint8_t> bytes(p, p + t.view.bytes());
    if (t.name == r.reshape_tensor) {
      std::swap(dims[0], dims[1]);  // same bytes, transposed shape
    }
    if (t.name == r.retype_tensor) {
      w.add_tensor(t.name, DType::kF16, dims, std::vector<std::uint8_t>(bytes.size() / 2));
      continue;
    }
    w.add_tensor(t.name, t.view.dtype, dims, std::move(bytes));
  }
  ASSERT_TRUE(w.write(dst).is_ok());
}

std::string load_error(const std::string& path) {
  auto m = load_llama_file(path);
  EXPECT_FALSE(m.is_ok());
  if (m.is_ok()) return "";
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  return m.status().message();
}

TEST(LoadLlama, SpecificErrors) {
  TempDir dir;
  const std::string good = dir.file("good.gguf");
  ASSERT_TRUE(write_random_model(tiny_shape(), opts(DType::kF32), good).is_ok());
  Rewrite arch;
  arch.drop_key = [](const std::string& k) { return k == "general.architecture"; };
  arch.add_keys = [](GgufWriter& w) { w.add_string("general.architecture", "gpt2"); };
  rewrite(good, dir.file("arch.gguf"), arch);
  EXPECT_EQ(load_error(dir.file("arch.gguf")),
            dir.file("arch.gguf") + ": general.architecture is \"gpt2\"; only \"llama\" models are supported");

  Rewrite missing;
  missing.drop_tensor = "blk.1.ffn_up.weight";
  rewrite(good, dir.file("missing.gguf"), missing);
  EXPECT_EQ(load_error(dir.file("missing.gguf")), dir.file("missing.gguf") + ": missing tensor \"blk.1.ffn_up.weight\"");

  Rewrite dims;
  dims.reshape_tensor = "blk.0.attn_k.weight";
  rewrite(good, dir.file("dims.gguf"), dims);
  EXPECT_EQ(load_error(dir.file("dims.gguf")),
            dir.file("dims.gguf") + ": tensor \"blk.0.attn_k.weight\": expected dims {64, 32}, got {32, 64}");

  Rewrite norm;
  norm.retype_tensor = "blk.0.ffn_norm.weight";
  rewrite(good, dir.file("norm.gguf"), norm);
  EXPECT_EQ(load_error(dir.file("norm.gguf")), dir.file("norm.gguf") + ": tensor \"blk.0.ffn_norm.weight\": expected F32, got F16");

  Rewrite key;
  key.drop_key = [](const std::string& k) { return k == "llama.block_count"; };
  rewrite(good, dir.file("key.gguf"), key);
  EXPECT_EQ(load_error(dir.file("key.gguf")), dir.file("key.gguf") + ": missing metadata key \"llama.block_count\"");

  // Defaults: no head_count_kv, key_length, rope dims, vocab_size -> head_count, hidden/heads, tokens.
  Rewrite defaults;
  defaults.drop_key = [](const std::string& k) {
    return k == "llama.attention.key_length" || k == "llama.rope.dimension_count" || k == "llama.vocab_size";
  };
  rewrite(good, dir.file("defaults.gguf"), defaults);
  auto m = load_llama_file(dir.file("defaults.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->config.head_dim, 16);
  EXPECT_EQ(m->config.rope_dim, 16);
  EXPECT_EQ(m->config.vocab, 300);
}

TEST(RandomModel, VocabFromAnotherFile) {
  TempDir dir;
  // A vocab-only file of 400 tokens, as llama.cpp's ggml-vocab-*.gguf files are.
  GgufWriter vw;
  auto v = build_bpe_vocab(400);
  ASSERT_TRUE(v.is_ok());
  add_bpe_tokenizer(vw, *v);
  vw.add_string("general.architecture", "llama");
  ASSERT_TRUE(vw.write(dir.file("vocab.gguf")).is_ok());
  RandomModelOptions o = opts(DType::kF32);
  o.vocab_path = dir.file("vocab.gguf");
  const Status bad = write_random_model(tiny_shape(), o, dir.file("m.gguf"));
  EXPECT_NE(bad.message().find("vocabulary of 400 tokens, but the shape's vocab is 300"), std::string::npos) << bad.message();
  LlamaShape s = tiny_shape();
  s.vocab = 400;
  ASSERT_TRUE(write_random_model(s, o, dir.file("m.gguf")).is_ok());
  auto m = load_llama_file(dir.file("m.gguf"));
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->config.vocab, 400);
  auto src = GgufFile::open(dir.file("vocab.gguf")).value();
  for (const GgufKv& kv : src.metadata()) {
    if (kv.key.rfind("tokenizer.", 0) != 0) continue;
    EXPECT_TRUE(m->file.has(kv.key)) << kv.key;
  }
  EXPECT_EQ(*m->file.string_array("tokenizer.ggml.merges")->rbegin(), *src.string_array("tokenizer.ggml.merges")->rbegin());
}

TEST(ModelCommand, InProcessExitCodes) {
  TempDir dir;
  EXPECT_EQ(model_command({}), 2);
  EXPECT_EQ(model_command({"random", "--out", dir.file("x.gguf")}), 2);
  EXPECT_EQ(model_command({"random", "--shape", dir.file("none.yaml"), "--out", dir.file("x.gguf")}), 2);
  EXPECT_EQ(model_command({"bogus"}), 2);
  EXPECT_EQ(model_command({"info", dir.file("none.gguf")}), 2);
}

}  // namespace
}  // namespace chatscale::engine
