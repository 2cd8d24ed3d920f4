// The CudaModel check of cuda_checks.h: a tiny random model (bf16-representable f32 weights, Llama-3
// RoPE scaling, GQA, KV blocks of 4 in shuffled order), two sequences prefilled together in one
// eager forward, then decoded for 5 steps through the CUDA graph of batch 2; every step's logits
// against reference_llama_logits.
#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "prod/engine/cuda/cuda_checks.h"
#include "prod/engine/cuda/cuda_model.h"
#include "prod/engine/cuda/reference.h"
#include "prod/engine/cuda/reference_forward.h"
#include "prod/engine/cuda/tiny_llama.h"
#include "prod/engine/tensor.h"

namespace chatscale::gpu {
namespace {

std::unique_ptr<TinyLlama> tiny_model() {
  return make_tiny_llama({.vocab = 96, .context_length = 64, .llama3_rope = true, .norm_lo = 0.8f, .norm_hi = 1.2f,
                          .seed = 91});
}

CheckResult fail(const Status& s) { return {false, 0, s.message()}; }

}  // namespace

CheckResult check_cuda_model() {
  auto m = tiny_model();
  CudaModelOptions opt;
  opt.max_rows = 16, opt.block_size = 4, opt.num_blocks = 16, opt.max_blocks_per_seq = 8;
  auto model_or = CudaModel::create(m->config, m->weights, opt);
  if (!model_or.is_ok()) return fail(model_or.status());
  auto model = std::move(model_or).value();
  const int prefill[2] = {9, 6}, steps = 5;
  std::mt19937 rng(92);
  std::vector<std::int32_t> tokens[2];
  for (int s = 0; s < 2; ++s)
    for (int i = 0; i < prefill[s] + steps; ++i) tokens[s].push_back(static_cast<std::int32_t>(rng() % 96));
  const std::vector<std::int32_t> tables[2] = {{5, 2, 11, 0, 7, 1, 3, 4}, {9, 15, 6, 12, 8, 10, 13, 14}};
  auto inv = rope_inv_freq(m->config, {});
  std::vector<float> want[2] = {reference_llama_logits(m->config, m->weights, tokens[0], inv),
                                reference_llama_logits(m->config, m->weights, tokens[1], inv)};
  const size_t vocab = 96;
  double worst = 0;
  auto compare_step = [&](const std::vector<float>& got, const int pos[2]) {
    for (int s = 0; s < 2; ++s) {
      std::vector<float> w(want[s].begin() + std::ptrdiff_t(pos[s] * vocab),
                           want[s].begin() + std::ptrdiff_t((pos[s] + 1) * vocab));
      std::vector<float> g(got.begin() + std::ptrdiff_t(s * vocab), got.begin() + std::ptrdiff_t((s + 1) * vocab));
      double scale = 0;
      for (float x : w) scale = std::max(scale, double(std::abs(x)));
      worst = std::max(worst, worst_error_ratio(g, w, 5e-2 * scale, 5e-2));
    }
  };
  engine::ForwardBatch batch;
  for (int s = 0; s < 2; ++s)
    batch.seqs.push_back({std::uint64_t(s), std::span<const std::int32_t>(tokens[s].data(), size_t(prefill[s])), 0,
                          tables[s], true});
  auto logits = model->forward(batch);
  if (!logits.is_ok()) return fail(logits.status());
  const int last[2] = {prefill[0] - 1, prefill[1] - 1};
  compare_step(*logits, last);
  for (int step = 0; step < steps; ++step) {
    const int pos[2] = {prefill[0] + step, prefill[1] + step};
    for (int s = 0; s < 2; ++s) {
      batch.seqs[size_t(s)].tokens = std::span<const std::int32_t>(tokens[s].data() + pos[s], 1);
      batch.seqs[size_t(s)].start_pos = pos[s];
    }
    std::vector<float> step_logits;
    auto next = model->decode(batch, &step_logits);
    if (!next.is_ok()) return fail(next.status());
    compare_step(step_logits, pos);
    for (int s = 0; s < 2; ++s) {
      const float* row = step_logits.data() + size_t(s) * vocab;
      if ((*next)[size_t(s)] != int(std::max_element(row, row + vocab) - row))
        return {false, worst, "decode's greedy token is not the argmax of its logits"};
    }
  }
  return {worst <= 1.0, worst, "worst logits error ratio " + std::to_string(worst)};
}

}  // namespace chatscale::gpu
