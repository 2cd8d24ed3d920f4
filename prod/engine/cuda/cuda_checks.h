// The CUDA kernels and CudaModel checked against CPU references, as plain functions returning their
// outcome, so that the GoogleTest suite (tests/prod/engine/cuda_kernels_test.cc) and the standalone
// `cuda_check` (no GoogleTest, for GPU machines) run the same checks with the same tolerances:
//   f32 RMSNorm   |gpu - ref| <= 1e-6 + 1e-5 |ref|
//   f32 GEMM      <= 1e-6 + 2 k eps_f32 sum|a b| (the classic dot-product bound)
//   bf16 GEMM     (bf16 inputs, f32 accumulation/out) <= 1e-5 + 1e-4 sum|a b|; f16 out <= 1e-3 + 2e-3 |ref|
//   bf16 outputs  (rmsnorm_bf16, silu_mul, attention) <= abs + 1e-2 |ref| (bf16 has 8 mantissa bits)
//   RoPE          <= 2e-3 + 1e-3 |ref| (f32 sincos of angles up to ~2000 rad)
//   fused RoPE + KV write vs rope + kv_write: q <= 1e-6 + 1e-5 |ref|, K/V caches (bf16) <= 1e-6 + 2^-7 |ref|
//   embedding, argmax, greedy sampling: exact
//   CudaModel     logits <= 5e-2 max|ref| + 5e-2 |ref| vs reference_llama_logits (bf16 weights, K/V and
//                 GEMM inputs; f32 residual stream)
// Each check needs a usable GPU (callers skip without one). Thread-compatible.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace chatscale::gpu {

struct CheckResult {
  bool ok = false;
  double worst_ratio = 0;  // worst |error| / tolerance (<= 1 passes); 0 for exact checks
  std::string detail;      // what failed, or a short summary
};

struct NamedCheck {
  std::string name;
  std::function<CheckResult()> run;
};

std::vector<NamedCheck> all_cuda_checks();

}  // namespace chatscale::gpu
