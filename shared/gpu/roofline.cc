#include "gpu/roofline.h"

#include <algorithm>
#include <cmath>

namespace chatscale {
namespace {

double nonneg(std::int64_t v) { return static_cast<double>(std::max<std::int64_t>(0, v)); }

// Per-GPU share of `n` heads or channels across `tp` GPUs; at least one (KV heads are replicated when
// there are fewer of them than GPUs).
double split(std::int64_t n, int tp) {
  const std::int64_t t = std::max(1, tp);
  return static_cast<double>(std::max<std::int64_t>(1, (n + t - 1) / t));
}

struct LocalShape {
  double hidden, heads, kv_heads, head_dim, ffn, dtype;
};

LocalShape local_shape(const ModelShape& s, int tp) {
  return {static_cast<double>(s.hidden), split(s.heads, tp), split(s.kv_heads, tp),
          static_cast<double>(s.head_dim), split(s.ffn, tp), static_cast<double>(s.dtype_bytes)};
}

// Causal flash attention over every prefill chunk: each new token attends to the cached context and
// to the chunk's tokens up to itself.
KernelTime prefill_attention(const Roofline& r, const LocalShape& l, const IterationShape& it) {
  double pairs = 0, bytes = 0;
  for (const PrefillWork& c : it.prefills) {
    const double t = nonneg(c.tokens), before = nonneg(c.context_before);
    pairs += t * before + t * (t + 1) / 2;
    bytes += (2 * t * l.heads * l.head_dim + (before + t) * 2 * l.kv_heads * l.head_dim) * l.dtype;
  }
  const double flops = 4 * l.head_dim * l.heads * pairs;  // QK^T and PV, two FLOPs per multiply-add
  const FitParams& p = r.params();
  return {"prefill_attention",
          r.combine(r.memory_s(bytes, p.memory_efficiency), r.compute_s(flops, p.attention_compute_efficiency)) +
              p.kernel_overhead_s};
}

// Decode attention: every sequence reads its whole KV cache; QK^T, softmax and PV are three kernels.
KernelTime decode_attention(const Roofline& r, const LocalShape& l, const IterationShape& it) {
  double context = 0;
  for (std::int64_t c : it.decode_contexts) context += nonneg(c);
  const double n = static_cast<double>(it.decode_contexts.size());
  const double bytes = (context * 2 * l.kv_heads + n * 2 * l.heads) * l.head_dim * l.dtype;
  const double flops = 4 * l.head_dim * l.heads * context;
  const FitParams& p = r.params();
  constexpr int kKernels = 3;
  return {"decode_attention",
          r.combine(r.memory_s(bytes, p.attention_memory_efficiency),
                    r.compute_s(flops, p.attention_compute_efficiency)) +
              kKernels * p.kernel_overhead_s,
          kKernels};
}

}  // namespace

Roofline::Roofline(const GpuSpecs& gpu, const FitParams& params, std::int64_t dtype_bytes)
    : gpu_(gpu), params_(params), dtype_bytes_(dtype_bytes), flops_(tensor_flops(gpu, dtype_bytes)) {}

double Roofline::combine(double memory_s, double compute_s) const {
  const double hi = std::max(memory_s, compute_s);
  if (hi <= 0) return 0;
  const double p = params_.roofline_sharpness;
  return hi * std::pow(std::pow(memory_s / hi, p) + std::pow(compute_s / hi, p), 1 / p);
}

double Roofline::memory_s(double bytes, double efficiency) const {
  return bytes / (gpu_.hbm_bytes_per_s * efficiency);
}

double Roofline::compute_s(double flops, double efficiency) const { return flops / (flops_ * efficiency); }

double Roofline::gemm_s(double m, double n, double k) const {
  const double bytes = (m * k + k * n + m * n) * static_cast<double>(dtype_bytes_);
  return combine(memory_s(bytes, params_.memory_efficiency), compute_s(2 * m * n * k, params_.gemm_efficiency));
}

double Roofline::elementwise_s(double bytes) const { return memory_s(bytes, params_.memory_efficiency); }

double Roofline::allreduce_s(double bytes, int tp) const {
  if (tp <= 1) return 0;
  return gpu_.allreduce_latency_s + 2.0 * (tp - 1) / tp * bytes / gpu_.nvlink_bytes_per_s;
}

double Roofline::allgather_s(double bytes, int tp) const {
  if (tp <= 1) return 0;
  return gpu_.allreduce_latency_s + static_cast<double>(tp - 1) / tp * bytes / gpu_.nvlink_bytes_per_s;
}

std::vector<KernelTime> layer_kernels(const Roofline& r, const ModelShape& shape, const IterationShape& it, int tp) {
  const LocalShape l = local_shape(shape, tp);
  const double t = nonneg(it.tokens());
  const double act = t * l.hidden * l.dtype;  // one activation tensor [tokens x hidden]
  const double o = r.params().kernel_overhead_s;
  std::vector<KernelTime> k;
  k.push_back({"input_norm", r.elementwise_s(2 * act) + o});
  k.push_back({"qkv_gemm", r.gemm_s(t, (l.heads + 2 * l.kv_heads) * l.head_dim, l.hidden) + o});
  k.push_back({"kv_cache_write", r.elementwise_s(2 * t * 2 * l.kv_heads * l.head_dim * l.dtype) + o});
  if (!it.prefills.empty()) k.push_back(prefill_attention(r, l, it));
  if (!it.decode_contexts.empty()) k.push_back(decode_attention(r, l, it));
  k.push_back({"output_gemm", r.gemm_s(t, l.hidden, l.heads * l.head_dim) + o});
  if (tp > 1) k.push_back({"attention_allreduce", r.allreduce_s(act, tp) + o});
  k.push_back({"residual_add", r.elementwise_s(3 * act) + o});
  k.push_back({"post_attention_norm", r.elementwise_s(2 * act) + o});
  k.push_back({"gate_up_gemm", r.gemm_s(t, 2 * l.ffn, l.hidden) + o});
  k.push_back({"silu_mul", r.elementwise_s(3 * t * l.ffn * l.dtype) + o});
  k.push_back({"down_gemm", r.gemm_s(t, l.hidden, l.ffn) + o});
  if (tp > 1) k.push_back({"mlp_allreduce", r.allreduce_s(act, tp) + o});
  k.push_back({"residual_add", r.elementwise_s(3 * act) + o});
  return k;
}

std::vector<KernelTime> lm_head_kernels(const Roofline& r, const ModelShape& shape, const IterationShape& it,
                                        int tp) {
  const LocalShape l = local_shape(shape, tp);
  const double rows = nonneg(it.logit_rows());
  const double o = r.params().kernel_overhead_s;
  const double vocab = split(shape.vocab, tp);
  std::vector<KernelTime> k;
  k.push_back({"final_norm", r.elementwise_s(2 * nonneg(it.tokens()) * l.hidden * l.dtype) + o});
  k.push_back({"lm_head_gemm", r.gemm_s(rows, vocab, l.hidden) + o});
  if (tp > 1) k.push_back({"logits_allgather", r.allgather_s(rows * nonneg(shape.vocab) * l.dtype, tp) + o});
  return k;
}

void KernelPipeline::run(const KernelTime& k) {
  host_s_ += launch_s_ * k.launches;
  gpu_done_s_ = std::max(host_s_, gpu_done_s_) + k.seconds;
}

void KernelPipeline::run_all(const std::vector<KernelTime>& kernels) {
  for (const KernelTime& k : kernels) run(k);
}

}  // namespace chatscale
