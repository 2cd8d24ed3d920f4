#include "prod/engine/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

#include "prod/engine/cpu/batch_check.h"
#include "prod/engine/cpu/kernels.h"
#include "prod/engine/cpu/rope.h"
#include "prod/engine/cpu/weights_check.h"

namespace chatscale::engine {
namespace {

std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<std::size_t>(t.elements()));
  dequantize(t.dtype, t.data, out.data(), t.elements());
  return out;
}

constexpr std::size_t kParallelTokens = 8;
}  // namespace

std::int64_t logits_rows(const ForwardBatch& batch) {
  return std::count_if(batch.seqs.begin(), batch.seqs.end(), [](const SeqSlice& s) { return s.want_logits; });
}

// Everything the forward pass touches besides the cache: weights, pool, per-forward scratch.
struct CpuBackend::State {
  LlamaWeights weights;
  std::unique_ptr<ThreadPool> pool;
  std::vector<std::vector<float>> attn_norm, ffn_norm;
  std::vector<float> output_norm, inv_freq;
  // Scratch, sized per forward: per token activations and per worker buffers.
  std::vector<std::int64_t> pos, slice_of;
  std::vector<float> x, n, q, k, v, att, gate, up, cs;
  std::vector<std::vector<float>> mat_scratch, scores;

  void prepare(const LlamaConfig& c, const ForwardBatch& batch);
  void embed(const LlamaConfig& c, const ForwardBatch& batch);
  void attention_block(const LlamaConfig& c, std::int64_t layer, const ForwardBatch& batch, CpuKvCache& cache);
  void attend(const LlamaConfig& c, std::int64_t layer, const SeqSlice& s, std::int64_t t, std::int64_t kvh,
              const CpuKvCache& cache, float* scores_buf);
  void mlp_block(const LlamaConfig& c, std::int64_t layer);
  void lm_head(const LlamaConfig& c, const ForwardBatch& batch, std::span<float> logits_out);
  // fn(t) for every token t of the batch; in parallel when there are enough tokens to pay for the
  // dispatch (decode batches of a few tokens run inline).
  template <typename Fn>
  void each_token(const Fn& fn) {
    if (pos.size() < kParallelTokens) {
      for (std::size_t t = 0; t < pos.size(); ++t) fn(t);
      return;
    }
    pool->parallel_for(static_cast<std::int64_t>(pos.size()), [&](std::int64_t b, std::int64_t e, int) {
      for (auto t = static_cast<std::size_t>(b); t < static_cast<std::size_t>(e); ++t) fn(t);
    });
  }
  void matmul(const TensorView& w, const float* in, std::int64_t in_stride, std::int64_t tokens, float* out,
              std::int64_t out_stride) {
    cpu::matmul(w, in, in_stride, tokens, out, out_stride, *pool, mat_scratch);
  }
};

namespace {
void resize(std::vector<float>& v, std::int64_t n) { v.resize(static_cast<std::size_t>(n)); }
}  // namespace

void CpuBackend::State::prepare(const LlamaConfig& c, const ForwardBatch& batch) {
  pos.clear();
  slice_of.clear();
  for (std::size_t i = 0; i < batch.seqs.size(); ++i) {
    const SeqSlice& s = batch.seqs[i];
    for (std::size_t j = 0; j < s.tokens.size(); ++j) {
      pos.push_back(s.start_pos + static_cast<std::int64_t>(j));
      slice_of.push_back(static_cast<std::int64_t>(i));
    }
  }
  const auto t = static_cast<std::int64_t>(pos.size());
  resize(x, t * c.hidden);
  resize(n, t * c.hidden);
  resize(q, t * c.heads * c.head_dim);
  resize(att, t * c.heads * c.head_dim);
  resize(k, t * c.kv_heads * c.head_dim);
  resize(v, t * c.kv_heads * c.head_dim);
  resize(gate, t * c.ffn);
  resize(up, t * c.ffn);
  const auto pairs = static_cast<std::int64_t>(inv_freq.size());
  resize(cs, t * pairs * 2);
  for (std::int64_t i = 0; i < t; ++i) cpu::rope_cos_sin(pos[static_cast<std::size_t>(i)], inv_freq, &cs[static_cast<std::size_t>(i * pairs * 2)]);
  std::int64_t max_ctx = 0;
  for (std::int64_t p : pos) max_ctx = std::max(max_ctx, p + 1);
  scores.resize(static_cast<std::size_t>(pool->size()));
  for (auto& sc : scores) resize(sc, max_ctx * (c.heads / c.kv_heads));
}

void CpuBackend::State::embed(const LlamaConfig& c, const ForwardBatch& batch) {
  std::int64_t t = 0;
  for (const SeqSlice& s : batch.seqs) {
    for (std::int32_t id : s.tokens) cpu::dequantize_row(weights.token_embd, id, &x[static_cast<std::size_t>(t++ * c.hidden)]);
  }
}

// Causal attention of token t (at pos[t], in slice s) for the query heads that share KV head kvh,
// over the cache: each K and V row is read once for the whole group.
void CpuBackend::State::attend(const LlamaConfig& c, std::int64_t layer, const SeqSlice& s, std::int64_t t,
                               std::int64_t kvh, const CpuKvCache& cache, float* sc) {
  const std::int64_t hd = c.head_dim, bs = cache.block_size(), group = c.heads / c.kv_heads;
  const std::int64_t stride = c.kv_heads * hd;  // between consecutive slots of one block
  const std::int64_t len = pos[static_cast<std::size_t>(t)] + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* q0 = &q[static_cast<std::size_t>((t * c.heads + kvh * group) * hd)];
  float* o0 = &att[static_cast<std::size_t>((t * c.heads + kvh * group) * hd)];
  for (std::int64_t p0 = 0; p0 < len; p0 += bs) {
    const std::int32_t block = s.block_table[static_cast<std::size_t>(p0 / bs)];
    cpu::attn_scores(q0, group, hd, cache.k(layer, block, 0) + kvh * hd, stride, std::min(bs, len - p0), scale,
                     sc + p0, len);
  }
  for (std::int64_t j = 0; j < group; ++j) {
    float* scj = sc + j * len;
    const float mx = *std::max_element(scj, scj + len);
    float sum = 0;
    for (std::int64_t p = 0; p < len; ++p) {
      scj[p] = std::exp(scj[p] - mx);
      sum += scj[p];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t p = 0; p < len; ++p) scj[p] *= inv;
  }
  std::fill(o0, o0 + group * hd, 0.0f);
  for (std::int64_t p0 = 0; p0 < len; p0 += bs) {
    const std::int32_t block = s.block_table[static_cast<std::size_t>(p0 / bs)];
    cpu::attn_accumulate(sc + p0, len, group, cache.v(layer, block, 0) + kvh * hd, stride, std::min(bs, len - p0), o0,
                         hd);
  }
}

void CpuBackend::State::attention_block(const LlamaConfig& c, std::int64_t layer, const ForwardBatch& batch,
                                        CpuKvCache& cache) {
  const auto tokens = static_cast<std::int64_t>(pos.size());
  const std::int64_t hd = c.head_dim, qd = c.heads * hd, kvd = c.kv_heads * hd, hid = c.hidden;
  const auto pairs = static_cast<std::int64_t>(inv_freq.size());
  const auto l = static_cast<std::size_t>(layer);
  each_token([&](std::size_t t) { cpu::rmsnorm(&x[t * hid], attn_norm[l].data(), hid, c.rms_eps, &n[t * hid]); });
  const LlamaLayerWeights& w = weights.layers[l];
  const cpu::MatmulJob qkv[] = {{&w.wq, q.data(), qd}, {&w.wk, k.data(), kvd}, {&w.wv, v.data(), kvd}};
  cpu::matmul_multi(qkv, n.data(), hid, tokens, *pool, mat_scratch);
  const std::int64_t bs = cache.block_size();
  // Distinct tokens write distinct cache slots (validate() rules out shared blocks).
  each_token([&](std::size_t t) {
    const float* cst = &cs[t * static_cast<std::size_t>(pairs) * 2];
    cpu::apply_rope(&q[t * qd], c.heads, hd, cst, pairs);
    cpu::apply_rope(&k[t * kvd], c.kv_heads, hd, cst, pairs);
    const SeqSlice& s = batch.seqs[static_cast<std::size_t>(slice_of[t])];
    const std::int64_t p = pos[t], block = s.block_table[static_cast<std::size_t>(p / bs)];
    std::memcpy(cache.k(layer, block, p % bs), &k[t * kvd], static_cast<std::size_t>(kvd) * 4);
    std::memcpy(cache.v(layer, block, p % bs), &v[t * kvd], static_cast<std::size_t>(kvd) * 4);
  });
  pool->parallel_for(tokens * c.kv_heads, [&](std::int64_t b, std::int64_t e, int worker) {
    float* sc = scores[static_cast<std::size_t>(worker)].data();
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t t = i / c.kv_heads;
      attend(c, layer, batch.seqs[static_cast<std::size_t>(slice_of[static_cast<std::size_t>(t)])], t, i % c.kv_heads,
             cache, sc);
    }
  });
  matmul(w.wo, att.data(), qd, tokens, n.data(), hid);
  each_token([&](std::size_t t) {
    for (std::size_t i = t * hid; i < (t + 1) * hid; ++i) x[i] += n[i];
  });
}

void CpuBackend::State::mlp_block(const LlamaConfig& c, std::int64_t layer) {
  const auto tokens = static_cast<std::int64_t>(pos.size());
  const std::int64_t hid = c.hidden, f = c.ffn;
  const auto l = static_cast<std::size_t>(layer);
  each_token([&](std::size_t t) { cpu::rmsnorm(&x[t * hid], ffn_norm[l].data(), hid, c.rms_eps, &n[t * hid]); });
  const LlamaLayerWeights& w = weights.layers[l];
  const cpu::MatmulJob gate_up[] = {{&w.w_gate, gate.data(), f}, {&w.w_up, up.data(), f}};
  cpu::matmul_multi(gate_up, n.data(), hid, tokens, *pool, mat_scratch);
  each_token([&](std::size_t t) {
    for (std::size_t i = t * f; i < (t + 1) * f; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  });
  matmul(w.w_down, gate.data(), f, tokens, n.data(), hid);
  each_token([&](std::size_t t) {
    for (std::size_t i = t * hid; i < (t + 1) * hid; ++i) x[i] += n[i];
  });
}

void CpuBackend::State::lm_head(const LlamaConfig& c, const ForwardBatch& batch, std::span<float> logits_out) {
  const std::int64_t hid = c.hidden;
  std::int64_t rows = 0, end = 0;
  for (const SeqSlice& s : batch.seqs) {
    end += static_cast<std::int64_t>(s.tokens.size());
    if (!s.want_logits) continue;
    cpu::rmsnorm(&x[static_cast<std::size_t>((end - 1) * hid)], output_norm.data(), hid, c.rms_eps,
                 &n[static_cast<std::size_t>(rows * hid)]);
    ++rows;
  }
  matmul(weights.output, n.data(), hid, rows, logits_out.data(), c.vocab);
}

Status CpuBackend::forward(const ForwardBatch& batch, CpuKvCache& cache, std::span<float> logits_out) {
  CS_RETURN_IF_ERROR(validate(batch, cache, static_cast<std::int64_t>(logits_out.size())));
  State& s = *state_;
  s.prepare(config_, batch);
  if (s.pos.empty()) return {};
  s.embed(config_, batch);
  for (std::int64_t l = 0; l < config_.layers; ++l) {
    s.attention_block(config_, l, batch, cache);
    s.mlp_block(config_, l);
  }
  s.lm_head(config_, batch, logits_out);
  return {};
}

CpuBackend::CpuBackend(std::unique_ptr<State> state, const LlamaConfig& config)
    : state_(std::move(state)), config_(config) {}
CpuBackend::CpuBackend(CpuBackend&&) noexcept = default;
CpuBackend& CpuBackend::operator=(CpuBackend&&) noexcept = default;
CpuBackend::~CpuBackend() = default;

int CpuBackend::threads() const { return state_->pool->size(); }

Result<CpuBackend> CpuBackend::create(const LlamaConfig& config, const LlamaWeights& weights,
                                      CpuBackendOptions options) {
  CS_RETURN_IF_ERROR(cpu::check_llama_weights(config, weights));
  CS_ASSIGN_OR_RETURN(std::vector<float> inv_freq, cpu::rope_inv_freqs(config, weights));
  auto s = std::make_unique<State>();
  s->weights = weights;
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s->pool = std::make_unique<ThreadPool>(threads);
  for (const LlamaLayerWeights& l : weights.layers) {
    s->attn_norm.push_back(to_f32(l.attn_norm));
    s->ffn_norm.push_back(to_f32(l.ffn_norm));
  }
  s->output_norm = to_f32(weights.output_norm);
  s->inv_freq = std::move(inv_freq);
  return CpuBackend(std::move(s), config);
}

Status CpuBackend::validate(const ForwardBatch& batch, const CpuKvCache& cache, std::int64_t logits_capacity) const {
  const LlamaConfig& c = config_;
  if (cache.layers() != c.layers || cache.kv_heads() != c.kv_heads || cache.head_dim() != c.head_dim) {
    return invalid_argument("KV cache shape (layers, kv_heads, head_dim) does not match the model");
  }
  return check_forward_batch(c, batch, cache.block_size(), cache.num_blocks(), logits_capacity);
}

Result<Logits> CpuBackend::forward(const ForwardBatch& batch, CpuKvCache& cache) {
  Logits out;
  out.vocab = config_.vocab;
  for (std::size_t i = 0; i < batch.seqs.size(); ++i) {
    if (batch.seqs[i].want_logits) out.slice.push_back(static_cast<std::int32_t>(i));
  }
  out.values.resize(static_cast<std::size_t>(out.rows() * out.vocab));
  CS_RETURN_IF_ERROR(forward(batch, cache, out.values));
  return out;
}

}  // namespace chatscale::engine
