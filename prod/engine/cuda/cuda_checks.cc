#include "prod/engine/cuda/cuda_checks.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>

#include "prod/engine/cuda/cuda_model.h"
#include "prod/engine/cuda/device_buffer.h"
#include "prod/engine/cuda/gemm.h"
#include "prod/engine/cuda/kernels.h"
#include "prod/engine/cuda/matmul.h"
#include "prod/engine/cuda/reference.h"
#include "prod/engine/cuda/reference_forward.h"
#include "prod/engine/cuda/rmsnorm.h"
#include "prod/engine/tensor.h"

namespace chatscale::gpu {
namespace {

using engine::bf16_to_f32;
using engine::f32_to_bf16;

std::vector<float> random_vector(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}
std::vector<std::uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<std::uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}
std::vector<float> from_bf16(const std::vector<std::uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_f32(v[i]);
  return out;
}
std::vector<float> round_bf16(const std::vector<float>& v) { return from_bf16(to_bf16(v)); }

CheckResult failed(const Status& s) { return {false, 0, s.message()}; }
CheckResult compare(const std::vector<float>& got, const std::vector<float>& want, double abs_tol, double rel_tol,
                    const std::vector<float>& scale = {}) {
  const double r = worst_error_ratio(got, want, abs_tol, rel_tol, scale);
  return {r <= 1.0, r, "worst error ratio " + std::to_string(r)};
}
Status sync() {
  CS_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return Status::ok();
}
template <typename T>
Result<DeviceBuffer<T>> upload(const std::vector<T>& v) {
  return DeviceBuffer<T>::from_host(std::span<const T>(v));
}

#define CHECK_OK(expr)                                  \
  do {                                                  \
    ::chatscale::Status check_status_ = (expr);         \
    if (!check_status_.is_ok()) return failed(check_status_); \
  } while (0)
#define CHECK_ASSIGN(lhs, expr)                 \
  auto lhs##_result = (expr);                   \
  if (!lhs##_result.is_ok()) return failed(lhs##_result.status()); \
  auto lhs = std::move(lhs##_result).value()

CheckResult check_rmsnorm_f32() {
  const int rows = 5, cols = 1000;
  auto x = random_vector(size_t(rows) * cols, 11, -4.f, 4.f);
  auto w = random_vector(cols, 12, 0.5f, 1.5f);
  CHECK_ASSIGN(got, rmsnorm_f32(x, w, rows, cols, 1e-6f));
  return compare(got, rmsnorm_reference(x, w, rows, cols, 1e-6f), 1e-6, 1e-5);
}

CheckResult check_matmul_f32() {
  const int m = 96, k = 256, n = 80;
  auto a = random_vector(size_t(m) * k, 5, -1.f, 1.f);
  auto b = random_vector(size_t(k) * n, 6, -1.f, 1.f);
  CHECK_ASSIGN(got, matmul_f32(a, b, m, k, n));
  return compare(got, matmul_reference(a, b, m, k, n), 1e-6, 2.0 * k * FLT_EPSILON, matmul_abs_reference(a, b, m, k, n));
}

// y = x W^T + y0 with bf16 x, W; W is [out][in], i.e. B = W^T for the reference.
CheckResult check_gemm_bf16() {
  const int rows = 7, in = 320, out = 96;
  auto x = round_bf16(random_vector(size_t(rows) * in, 21, -1.f, 1.f));
  auto w = round_bf16(random_vector(size_t(out) * in, 22, -1.f, 1.f));
  auto y0 = random_vector(size_t(rows) * out, 23, -1.f, 1.f);
  std::vector<float> wt(size_t(in) * out);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) wt[size_t(i) * out + o] = w[size_t(o) * in + i];
  auto want = matmul_reference(x, wt, rows, in, out);
  auto scale = matmul_abs_reference(x, wt, rows, in, out);
  for (size_t i = 0; i < want.size(); ++i) want[i] += y0[i], scale[i] += std::abs(y0[i]);
  CHECK_ASSIGN(stream_ctx, GemmContext::create(nullptr));
  CHECK_ASSIGN(d_x, upload(to_bf16(x)));
  CHECK_ASSIGN(d_w, upload(to_bf16(w)));
  CHECK_ASSIGN(d_y, upload(y0));
  CHECK_OK(stream_ctx->linear_f32_out(GemmType::kBF16, d_x.data(), d_w.data(), d_y.data(), rows, in, out, 1.f, 1.f));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_y.to_host());
  CheckResult r = compare(got, want, 1e-5, 1e-4, scale);
  if (!r.ok) return r;
  // f16 in, f16 out.
  std::vector<std::uint16_t> xh(x.size()), wh(w.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = engine::f32_to_f16(x[i]);
  for (size_t i = 0; i < w.size(); ++i) wh[i] = engine::f32_to_f16(w[i]);
  CHECK_ASSIGN(d_xh, upload(xh));
  CHECK_ASSIGN(d_wh, upload(wh));
  CHECK_ASSIGN(d_yh, DeviceBuffer<std::uint16_t>::allocate(size_t(rows) * out));
  CHECK_OK(stream_ctx->linear(GemmType::kF16, d_xh.data(), d_wh.data(), d_yh.data(), rows, in, out));
  CHECK_OK(sync());
  CHECK_ASSIGN(gh, d_yh.to_host());
  std::vector<float> got16(gh.size());
  for (size_t i = 0; i < gh.size(); ++i) got16[i] = engine::f16_to_f32(gh[i]);
  auto want16 = matmul_reference(x, wt, rows, in, out);
  auto scale16 = matmul_abs_reference(x, wt, rows, in, out);
  return compare(got16, want16, 1e-3, 2e-3, scale16);
}

CheckResult check_embedding() {
  const int vocab = 50, hidden = 72;
  auto table = to_bf16(random_vector(size_t(vocab) * hidden, 31, -1.f, 1.f));
  std::vector<std::int32_t> tokens{3, 0, 49, 3, 50, -1};
  CHECK_ASSIGN(d_t, upload(table));
  CHECK_ASSIGN(d_tok, upload(tokens));
  CHECK_ASSIGN(d_out, DeviceBuffer<float>::allocate(tokens.size() * hidden));
  CHECK_OK(embedding_launch(d_t.data(), d_tok.data(), d_out.data(), int(tokens.size()), hidden, vocab, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_out.to_host());
  std::vector<float> want(got.size(), 0.f);
  for (size_t r = 0; r < tokens.size(); ++r)
    if (tokens[r] >= 0 && tokens[r] < vocab)
      for (int c = 0; c < hidden; ++c) want[r * hidden + c] = bf16_to_f32(table[size_t(tokens[r]) * hidden + c]);
  return compare(got, want, 0, 0);
}

CheckResult check_rmsnorm_bf16() {
  const int rows = 4, cols = 2048;
  auto x = random_vector(size_t(rows) * cols, 41, -3.f, 3.f);
  auto w = random_vector(cols, 42, 0.5f, 1.5f);
  CHECK_ASSIGN(d_x, upload(x));
  CHECK_ASSIGN(d_w, upload(w));
  CHECK_ASSIGN(d_y, DeviceBuffer<std::uint16_t>::allocate(x.size()));
  CHECK_OK(rmsnorm_f32_bf16_launch(d_x.data(), d_w.data(), d_y.data(), rows, cols, 1e-5f, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_y.to_host());
  return compare(from_bf16(got), rmsnorm_reference(x, w, rows, cols, 1e-5f), 1e-6, 1e-2);
}

CheckResult check_rope() {
  engine::LlamaConfig c;
  c.heads = 4, c.kv_heads = 2, c.head_dim = 16, c.rope_dim = 16, c.rope_theta = 500000.f;
  c.rope_scaling = engine::RopeScaling::kLlama3;
  auto inv = rope_inv_freq(c, {});
  const int qkv_dim = 8 * 16;
  std::vector<std::int32_t> pos{0, 7, 2047};
  auto qkv = random_vector(pos.size() * qkv_dim, 51, -1.f, 1.f);
  std::vector<float> want = qkv;
  for (size_t r = 0; r < pos.size(); ++r)
    for (int h = 0; h < 6; ++h)
      for (int i = 0; i < 8; ++i) {
        const double a = double(pos[r]) * inv[size_t(i)];
        float* p = &want[r * qkv_dim + size_t(h) * 16 + 2 * size_t(i)];
        const double x0 = p[0], x1 = p[1];
        p[0] = float(x0 * std::cos(a) - x1 * std::sin(a));
        p[1] = float(x0 * std::sin(a) + x1 * std::cos(a));
      }
  CHECK_ASSIGN(d_q, upload(qkv));
  CHECK_ASSIGN(d_p, upload(pos));
  CHECK_ASSIGN(d_f, upload(inv));
  CHECK_OK(rope_launch(d_q.data(), d_p.data(), d_f.data(), int(pos.size()), 4, 2, 16, 16, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_q.to_host());
  return compare(got, want, 2e-3, 1e-3);
}

// The fused RoPE + paged KV write against the unfused pair (rope_launch then kv_write_launch): two
// sequences (5 and 40 positions, shuffled blocks of 16), rope_dim 12 of head_dim 16 (the last pairs
// stay unrotated); the q heads left in qkv within 1e-6 + 1e-5 |ref|, both caches (every slot, bf16)
// within 1e-6 + 2^-7 |ref| (one bf16 rounding step apart at most).
CheckResult check_rope_kv_fused() {
  engine::LlamaConfig c;
  c.heads = 4, c.kv_heads = 2, c.head_dim = 16, c.rope_dim = 12, c.rope_theta = 500000.f;
  c.rope_scaling = engine::RopeScaling::kLlama3;
  const int heads = 4, kvh = 2, hd = 16, bs = 16, max_blocks = 4, num_blocks = 8;
  const int qkv_dim = (heads + 2 * kvh) * hd;
  auto inv = rope_inv_freq(c, {});
  std::vector<std::int32_t> tables{5, 2, 7, 0, 1, 6, 3, 4}, positions, seq_of_row;
  for (int p = 0; p < 5; ++p) positions.push_back(p), seq_of_row.push_back(0);
  for (int p = 0; p < 40; ++p) positions.push_back(p + 3), seq_of_row.push_back(1);
  const int rows = int(positions.size());
  auto qkv = random_vector(size_t(rows) * qkv_dim, 71, -2.f, 2.f);
  const size_t kv_elems = size_t(num_blocks) * kvh * bs * hd;
  CHECK_ASSIGN(d_ref, upload(qkv));
  CHECK_ASSIGN(d_fused, upload(qkv));
  CHECK_ASSIGN(d_pos, upload(positions));
  CHECK_ASSIGN(d_seq, upload(seq_of_row));
  CHECK_ASSIGN(d_tab, upload(tables));
  CHECK_ASSIGN(d_f, upload(inv));
  std::vector<std::uint16_t> zeros(kv_elems, 0);
  CHECK_ASSIGN(k_ref, upload(zeros));
  CHECK_ASSIGN(v_ref, upload(zeros));
  CHECK_ASSIGN(k_fused, upload(zeros));
  CHECK_ASSIGN(v_fused, upload(zeros));
  CHECK_OK(rope_launch(d_ref.data(), d_pos.data(), d_f.data(), rows, heads, kvh, hd, 12, nullptr));
  CHECK_OK(kv_write_launch(d_ref.data(), d_pos.data(), d_seq.data(), d_tab.data(), max_blocks, k_ref.data(),
                           v_ref.data(), rows, heads, kvh, hd, bs, nullptr));
  CHECK_OK(rope_kv_write_launch(d_fused.data(), d_pos.data(), d_seq.data(), d_f.data(), d_tab.data(), max_blocks,
                                k_fused.data(), v_fused.data(), rows, heads, kvh, hd, 12, bs, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(q_ref, d_ref.to_host());
  CHECK_ASSIGN(q_fused, d_fused.to_host());
  std::vector<float> want_q, got_q;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < heads * hd; ++i)
      want_q.push_back(q_ref[size_t(r) * qkv_dim + size_t(i)]), got_q.push_back(q_fused[size_t(r) * qkv_dim + size_t(i)]);
  CheckResult q = compare(got_q, want_q, 1e-6, 1e-5);
  if (!q.ok) return {false, q.worst_ratio, "q heads: " + q.detail};
  double worst = q.worst_ratio;
  const char* names[2] = {"K cache", "V cache"};
  DeviceBuffer<std::uint16_t>* caches[2][2] = {{&k_ref, &k_fused}, {&v_ref, &v_fused}};
  for (int which = 0; which < 2; ++which) {
    CHECK_ASSIGN(want, caches[which][0]->to_host());
    CHECK_ASSIGN(got, caches[which][1]->to_host());
    CheckResult r = compare(from_bf16(got), from_bf16(want), 1e-6, 1.0 / 128);
    if (!r.ok) return {false, r.worst_ratio, std::string(names[which]) + ": " + r.detail};
    worst = std::max(worst, r.worst_ratio);
  }
  return {true, worst, "fused == rope + kv_write, worst error ratio " + std::to_string(worst)};
}

// Three sequences (contexts 1, 200, 300) written through kv_write into shuffled blocks, then every
// position attends causally (the prefill path; each sequence's last row is its decode step).
CheckResult check_paged_attention() {
  const int heads = 8, kvh = 2, hd = 64, bs = 16, max_blocks = 20, num_blocks = 64;
  const int qkv_dim = (heads + 2 * kvh) * hd;
  const std::vector<int> ctx{1, 200, 300};
  std::vector<std::int32_t> blocks(num_blocks);
  for (int i = 0; i < num_blocks; ++i) blocks[size_t(i)] = i;
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(61));
  std::vector<std::int32_t> tables(ctx.size() * max_blocks, 0), positions, seq_of_row;
  for (size_t s = 0; s < ctx.size(); ++s)
    for (int b = 0; b < max_blocks; ++b) tables[s * max_blocks + size_t(b)] = blocks[s * max_blocks + size_t(b)];
  for (size_t s = 0; s < ctx.size(); ++s)
    for (int p = 0; p < ctx[s]; ++p) positions.push_back(p), seq_of_row.push_back(int(s));
  const int rows = int(positions.size());
  auto qkv = random_vector(size_t(rows) * qkv_dim, 62, -1.f, 1.f);
  for (size_t i = 0; i < qkv.size(); ++i)
    if (i % qkv_dim < size_t(heads * hd)) qkv[i] *= 3.f;  // sharper softmax
  const size_t kv_elems = size_t(num_blocks) * kvh * bs * hd;
  CHECK_ASSIGN(d_qkv, upload(qkv));
  CHECK_ASSIGN(d_pos, upload(positions));
  CHECK_ASSIGN(d_seq, upload(seq_of_row));
  CHECK_ASSIGN(d_tab, upload(tables));
  CHECK_ASSIGN(d_k, DeviceBuffer<std::uint16_t>::allocate(kv_elems));
  CHECK_ASSIGN(d_v, DeviceBuffer<std::uint16_t>::allocate(kv_elems));
  CHECK_ASSIGN(d_part, DeviceBuffer<float>::allocate(size_t(attention_partial_floats(rows, heads, hd, max_blocks * bs))));
  CHECK_ASSIGN(d_out, DeviceBuffer<std::uint16_t>::allocate(size_t(rows) * heads * hd));
  CHECK_OK(kv_write_launch(d_qkv.data(), d_pos.data(), d_seq.data(), d_tab.data(), max_blocks, d_k.data(), d_v.data(),
                           rows, heads, kvh, hd, bs, nullptr));
  CHECK_OK(attention_launch(d_qkv.data(), d_pos.data(), d_seq.data(), d_tab.data(), max_blocks, d_k.data(), d_v.data(),
                            d_part.data(), d_out.data(), rows, heads, kvh, hd, bs, max_blocks * bs, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got_bits, d_out.to_host());
  auto rq = round_bf16(qkv);  // K and V are stored as bf16; q stays f32
  std::vector<float> want(size_t(rows) * heads * hd);
  int first = 0;
  for (int r = 0; r < rows; ++r) {
    if (r > 0 && seq_of_row[size_t(r)] != seq_of_row[size_t(r - 1)]) first = r;
    for (int h = 0; h < heads; ++h) {
      const int g = h / (heads / kvh);
      std::vector<double> sc;
      double m = -1e300;
      for (int p = first; p <= r; ++p) {
        double s = 0;
        for (int d = 0; d < hd; ++d)
          s += double(qkv[size_t(r) * qkv_dim + size_t(h * hd + d)]) * rq[size_t(p) * qkv_dim + size_t((heads + g) * hd + d)];
        sc.push_back(s / 8.0);
        m = std::max(m, sc.back());
      }
      double sum = 0;
      for (auto& s : sc) sum += (s = std::exp(s - m));
      for (int d = 0; d < hd; ++d) {
        double o = 0;
        for (int p = first; p <= r; ++p)
          o += sc[size_t(p - first)] * rq[size_t(p) * qkv_dim + size_t((heads + kvh + g) * hd + d)];
        want[(size_t(r) * heads + size_t(h)) * hd + size_t(d)] = float(o / sum);
      }
    }
  }
  return compare(from_bf16(got_bits), want, 2e-3, 1e-2);
}

CheckResult check_silu_mul_add() {
  const int rows = 3, ffn = 1000;
  auto gu = random_vector(size_t(rows) * 2 * ffn, 71, -6.f, 6.f);
  CHECK_ASSIGN(d_gu, upload(gu));
  CHECK_ASSIGN(d_out, DeviceBuffer<std::uint16_t>::allocate(size_t(rows) * ffn));
  CHECK_OK(silu_mul_launch(d_gu.data(), d_out.data(), rows, ffn, nullptr));
  auto x = random_vector(5000, 72, -1.f, 1.f), y = random_vector(5000, 73, -1.f, 1.f);
  CHECK_ASSIGN(d_x, upload(x));
  CHECK_ASSIGN(d_y, upload(y));
  CHECK_OK(add_launch(d_x.data(), d_y.data(), 5000, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_out.to_host());
  std::vector<float> want(size_t(rows) * ffn);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < ffn; ++i) {
      const double g = gu[size_t(r) * 2 * ffn + size_t(i)], u = gu[size_t(r) * 2 * ffn + size_t(ffn + i)];
      want[size_t(r) * ffn + size_t(i)] = float(g / (1 + std::exp(-g)) * u);
    }
  CheckResult r = compare(from_bf16(got), want, 1e-4, 1e-2);
  if (!r.ok) return r;
  CHECK_ASSIGN(sum, d_x.to_host());
  std::vector<float> want_sum(x.size());
  for (size_t i = 0; i < x.size(); ++i) want_sum[i] = x[i] + y[i];
  return compare(sum, want_sum, 0, 0);
}

// Argmax (with ties: the lowest index) and sampling: greedy cases equal argmax; top-k 5 draws stay in
// the top 5, repeat with the same seeds and differ across seeds.
CheckResult check_argmax_sample() {
  const int rows = 32, vocab = 50000;
  auto logits = random_vector(size_t(rows) * vocab, 81, -5.f, 5.f);
  std::vector<std::int32_t> want(rows);
  for (int r = 0; r < rows; ++r) {
    float* row = &logits[size_t(r) * vocab];
    row[(r * 977) % vocab] = 9.f, row[(r * 331 + 5) % vocab] = 9.f;  // a tie
    for (int j = 1; j <= 4; ++j) row[(r * 131 + j * 7919) % vocab] = 9.f - 0.01f * float(j);
    want[size_t(r)] = std::min((r * 977) % vocab, (r * 331 + 5) % vocab);
  }
  CHECK_ASSIGN(d_l, upload(logits));
  CHECK_ASSIGN(d_tok, DeviceBuffer<std::int32_t>::allocate(rows));
  CHECK_OK(argmax_launch(d_l.data(), d_tok.data(), rows, vocab, nullptr));
  CHECK_OK(sync());
  CHECK_ASSIGN(got, d_tok.to_host());
  if (got != want) return {false, 0, "argmax differs from the CPU"};
  auto sample = [&](float temp, int k, float p, std::uint64_t seed_base) -> Result<std::vector<std::int32_t>> {
    std::vector<std::uint64_t> seeds(rows);
    for (int r = 0; r < rows; ++r) seeds[size_t(r)] = seed_base + std::uint64_t(r);
    CS_ASSIGN_OR_RETURN(auto d_s, upload(seeds));
    CS_ASSIGN_OR_RETURN(auto d_step, upload(std::vector<std::int32_t>(rows, 3)));
    CS_ASSIGN_OR_RETURN(auto d_t, upload(std::vector<float>(rows, temp)));
    CS_ASSIGN_OR_RETURN(auto d_k, upload(std::vector<std::int32_t>(rows, k)));
    CS_ASSIGN_OR_RETURN(auto d_p, upload(std::vector<float>(rows, p)));
    CS_RETURN_IF_ERROR(sample_launch(d_l.data(), d_s.data(), d_step.data(), d_t.data(), d_k.data(), d_p.data(),
                                     d_tok.data(), rows, vocab, nullptr));
    CS_RETURN_IF_ERROR(sync());
    return d_tok.to_host();
  };
  CHECK_ASSIGN(greedy0, sample(0.f, 40, 0.9f, 1));
  CHECK_ASSIGN(greedy1, sample(1.f, 1, 1.f, 1));
  CHECK_ASSIGN(greedy2, sample(1.f, 40, 1e-4f, 1));
  if (greedy0 != want || greedy1 != want || greedy2 != want) return {false, 0, "greedy sampling differs from argmax"};
  CHECK_ASSIGN(a, sample(1.f, 5, 1.f, 100));
  CHECK_ASSIGN(b, sample(1.f, 5, 1.f, 100));
  if (a != b) return {false, 0, "sampling with the same seeds is not reproducible"};
  std::set<int> ranks;
  for (int r = 0; r < rows; ++r) {
    const float* row = &logits[size_t(r) * vocab];
    int above = 0;
    for (int c = 0; c < vocab; ++c) above += row[c] > row[a[size_t(r)]] ? 1 : 0;
    if (above >= 5) return {false, 0, "a top-5 draw is outside the top 5"};
    ranks.insert(above);
  }
  if (ranks.size() < 2) return {false, 0, "32 top-5 draws all have the same rank"};
  return {true, 0, "argmax and sampling agree"};
}

}  // namespace

CheckResult check_cuda_model();  // cuda_checks_model.cc

std::vector<NamedCheck> all_cuda_checks() {
  return {{"rmsnorm_f32", check_rmsnorm_f32},     {"matmul_f32", check_matmul_f32},
          {"gemm_bf16_f16", check_gemm_bf16},     {"embedding", check_embedding},
          {"rmsnorm_bf16", check_rmsnorm_bf16},   {"rope", check_rope},
          {"rope_kv_fused", check_rope_kv_fused},
          {"paged_attention", check_paged_attention}, {"silu_mul_add", check_silu_mul_add},
          {"argmax_sample", check_argmax_sample}, {"cuda_model_vs_cpu", check_cuda_model}};
}

}  // namespace chatscale::gpu
