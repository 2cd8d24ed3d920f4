// The GPU calibration profile, format `chatscale-gpu-profile/1` (scenarios/calibration/*.json): timings
// of one GPU (measured copy bandwidth and GEMM rate) and, per model, of one decoder layer in prefill
// (one sequence of T tokens, eager), one decoder layer in decode (b sequences of one token over a KV
// cache of c, CUDA graph) and the LM head (b rows). The engine's profiler writes the same format.
//
// Unknown keys are ignored (newer profilers may add some); optional keys beyond the measured ones:
// memory_GB, nvlink_GBps (per direction), allreduce_latency_us, dtype_bytes (default 2, bf16).
//
// Ownership: plain values. Thread-safety: values. Failure: the loaders return kInvalidArgument whose
// message reads "file: field.path: problem"; JSON exceptions never escape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gpu/shapes.h"

namespace chatscale {

inline constexpr std::string_view kGpuProfileFormat = "chatscale-gpu-profile/1";

enum class CalibrationKind {
  kPrefillLayer,  // one layer, one sequence of `length` tokens, eager
  kDecodeLayer,   // one layer, `batch` sequences of one new token over `length` cached tokens, CUDA graph
  kLmHead,        // the vocabulary projection of `batch` rows
};

struct CalibrationPoint {
  CalibrationKind kind = CalibrationKind::kDecodeLayer;
  std::int64_t batch = 1;
  std::int64_t length = 0;
  double measured_ms = 0;

  // The profile's own name: "prefill_layer_ms[2048]", "decode_layer_ms[B16_C512]", "lm_head_ms[64]".
  std::string label() const;
};

struct ProfiledModel {
  std::string name;
  ModelShape shape;
  std::vector<CalibrationPoint> points;  // prefill, then decode, then LM head, each in file order
};

struct GpuProfile {
  std::string source;  // file name, for messages
  std::string measured_with;
  GpuSpecs gpu;
  std::vector<ProfiledModel> models;

  const ProfiledModel* find_model(std::string_view name) const;
  std::vector<std::string> model_names() const;
};

Result<GpuProfile> parse_gpu_profile(std::string_view json_text, const std::string& filename);
Result<GpuProfile> load_gpu_profile(const std::string& path);

}  // namespace chatscale
