// engine_profile_cuda: `chatscale profile --device cuda` for GPU machines without chatscale's Debian
// packages (the full CLI needs them: the GGUF-free shape here replaces --model, and the shared JSON
// loader's read-back is left out). It profiles the Llama-3.2-1B shape (hidden 2048, 16 layers, 32 heads,
// 8 KV heads, head dim 64, FFN 8192, vocab 128256, tied output) with random bf16 weights generated on
// the device, through the same code path (gpu::profile_cuda_random: CudaModelBackend, CudaProfileBackend,
// engine::Profiler) over a grid of decode batches x contexts and prefill lengths, and writes format
// chatscale-gpu-profile/1 (profile/profile_json.h).
// Usage: engine_profile_cuda --out FILE.json [--quick]
// Exit: 0 written, 1 an error, 2 bad arguments, 77 no usable GPU.
#include <cstdio>
#include <fstream>
#include <string>

#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_profile_backend.h"
#include "prod/engine/profile/profile_json.h"

namespace {

using namespace chatscale;

engine::LlamaConfig llama_3_2_1b() {
  engine::LlamaConfig c;
  c.vocab = 128256, c.hidden = 2048, c.layers = 16, c.heads = 32, c.kv_heads = 8, c.head_dim = 64;
  c.ffn = 8192, c.context_length = 131072, c.rms_eps = 1e-5f, c.rope_theta = 500000.f, c.rope_dim = 64;
  c.rope_scaling = engine::RopeScaling::kLlama3, c.rope_factor = 32.f;
  return c;
}

void print_point(const engine::ProfilePoint& p) {
  std::printf("%-7s %-12s layer %10.4f ms   all layers %10.3f ms   with LM head %10.3f ms\n",
              p.phase == engine::ProfilePhase::kDecode ? "decode" : "prefill", p.key().c_str(), p.layer_ms,
              p.layers_ms, p.with_head_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--quick") quick = true;
    else {
      std::fprintf(stderr, "usage: engine_profile_cuda --out FILE.json [--quick]\n");
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "engine_profile_cuda: --out FILE.json is required\n");
    return 2;
  }
  auto devices = gpu::cuda_devices();
  if (!devices.is_ok()) {
    std::printf("SKIP: no usable GPU: %s\n", devices.status().message().c_str());
    return 77;
  }
  engine::ProfileGrid grid;
  grid.batches = quick ? std::vector<std::int64_t>{1, 8} : std::vector<std::int64_t>{1, 8, 32, 64, 128};
  grid.contexts = quick ? std::vector<std::int64_t>{512} : std::vector<std::int64_t>{512, 2048};
  grid.prefill_lengths = quick ? std::vector<std::int64_t>{128} : std::vector<std::int64_t>{128, 512, 2048};
  grid.repeats = quick ? 3 : 5;
  grid.warmup = 2;
  gpu::CudaProfileOptions o;
  o.quick_device = quick;
  auto result = gpu::profile_cuda_random(llama_3_2_1b(), grid, o, 2026, print_point);
  if (!result.is_ok()) {
    std::fprintf(stderr, "engine_profile_cuda: %s\n", result.status().message().c_str());
    return 1;
  }
  const auto& d = result->device;
  const std::string measured = "engine_profile_cuda (standalone chatscale profile --device cuda), engine CUDA backend on " +
                               d.name + ", Llama-3.2-1B shape with random bf16 weights, KV cache " + d.kv_dtype +
                               ", median of " + std::to_string(grid.repeats) + " after " +
                               std::to_string(grid.warmup) + " warm-up; gemm_8192_bf16_TFLOPs: " + d.flops_method;
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << engine::profile_json(*result, "llama-3.2-1b-shape", 2, measured);
  if (!file.flush()) {
    std::fprintf(stderr, "engine_profile_cuda: cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("device: %s; copy %.1f GB/s; bf16 GEMM %.1f TFLOP/s\n", d.name.c_str(), d.copy_bytes_per_s / 1e9,
              d.peak_flops / 1e12);
  for (const auto& h : result->lm_head) std::printf("lm_head B%-5lld %10.4f ms\n", static_cast<long long>(h.batch), h.ms);
  std::printf("wrote %s (%zu grid points)\n", out.c_str(), result->points.size());
  return 0;
}
