// The GPU checks of the CUDA engine's serving and profiling layer, as plain functions (like
// cuda_checks.h), run by the GoogleTest suite (tests/prod/engine/cuda/) and by the standalone
// `cuda_check` on GPU machines. On a tiny random model (bf16-representable f32 weights, GQA, KV blocks
// of 4 in shuffled order):
//   backend_vs_cpu       CudaModelBackend vs CpuModelBackend: a two-sequence prefill, then 16
//                        teacher-forced decode steps through the CUDA graphs (one step with a slice
//                        that wants no logits); every logits row within 3e-2 x (max - min of the CPU row)
//   graph_vs_eager       decode through CUDA graphs (batch 3, 2, 1, 3 again) vs the same steps eager:
//                        logits within 1e-4 x range
//   chunked_prefill      a 40-token prompt whole, in chunks of 7 and split by max_rows 16: last-token
//                        logits within 1e-2 x range of each other and 3e-2 x range of the CPU's
//   backend_validation   bad batches give InvalidArgument and leave the logits buffer untouched
//   loop_batched_alone   EngineLoop on the GPU: 5 concurrent greedy requests each equal its alone tokens
//   loop_cancel          cancelling a running request frees its KV blocks (stats polled, 30 s deadline)
//   profile_tiny         profile_cuda on a tiny grid: every point, kind cuda, kv bf16, positive copy
//                        bandwidth and GEMM rate, JSON of format chatscale-gpu-profile/1
// Each needs a usable GPU (callers skip without one). Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "prod/engine/cuda/cuda_checks.h"
#include "prod/engine/profile/profiler.h"

namespace chatscale::gpu {

std::vector<NamedCheck> cuda_backend_checks();

// The profile of profile_tiny (for the GoogleTest suite, which also loads the JSON back with the
// shared loader): a quick profile of the tiny model, its JSON in *json.
Result<engine::ProfileResult> tiny_cuda_profile(std::string* json);

}  // namespace chatscale::gpu
