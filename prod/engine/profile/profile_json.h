// Writes a ProfileResult as a chatscale-gpu-profile/1 document (see ../shared/calibration/README.md and
// shared/gpu/gpu_profile.h): "gpu" (the device's name), "measured_with", "hbm_copy_TBps" (the measured
// copy, bytes read plus written), "gemm_8192_bf16_TFLOPs" (the device's measured dense FLOP/s: on a CPU
// the f32 FMA peak of profile/cpu_device.h, not a bf16 GEMM), "memory_GB", "dtype_bytes" (of the
// model's projection weights: F32 4, F16/BF16 2, Q8_0 1), and one model with "shape" (hid, hq, hkv, d,
// ffn, layers, vocab), "prefill_layer_ms" (batch-1 prefill points, keyed by length),
// "decode_layer_ms" ("B<b>_C<c>") and "lm_head_ms" (by batch). Extra keys, which the format's readers
// ignore: "device" (kind, threads, FLOP method, KV dtype), "profiler" (repeats, warmup, statistic, block
// size, how the cache was filled), per model "decode_iteration_ms" / "prefill_iteration_ms" (whole
// forwards with logits, every batch) and "lm_head_clamped" (batches whose LM head time was floored).
//
// Plain functions of values; no I/O; standard library only; cannot fail.
#pragma once

#include <string>

#include "prod/engine/llama.h"
#include "prod/engine/profile/profiler.h"

namespace chatscale::engine {

// 4, 2 or 1 for the projection weights' dtype (layer 0's wq), 2 when the model has no layers.
int weight_dtype_bytes(const LlamaWeights& weights);

std::string profile_json(const ProfileResult& result, const std::string& model_name, int dtype_bytes,
                         const std::string& measured_with);

}  // namespace chatscale::engine
