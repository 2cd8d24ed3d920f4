#include "prod/engine/profile/profile_backend.h"

#include <algorithm>

#include "prod/engine/profile/cpu_device.h"

namespace chatscale::engine {

Result<std::unique_ptr<CpuProfileBackend>> CpuProfileBackend::create(const LlamaConfig& config,
                                                                     const LlamaWeights& weights,
                                                                     std::int64_t num_blocks,
                                                                     std::int32_t block_size, int threads) {
  CpuBackendOptions options;
  options.threads = std::max(threads, 0);
  CS_ASSIGN_OR_RETURN(CpuBackend backend, CpuBackend::create(config, weights, options));
  CS_ASSIGN_OR_RETURN(CpuKvCache cache, CpuKvCache::create(config, num_blocks, block_size));
  return std::unique_ptr<CpuProfileBackend>(new CpuProfileBackend(std::move(backend), std::move(cache)));
}

Status CpuProfileBackend::fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t seed) {
  for (std::int32_t b : blocks) {
    if (b < 0 || b >= cache_.num_blocks()) {
      return invalid_argument("fill_kv_random: block " + std::to_string(b) + " is not in [0, " +
                              std::to_string(cache_.num_blocks()) + ")");
    }
  }
  const std::int64_t row = cache_.kv_heads() * cache_.head_dim() * cache_.block_size();
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  if (state == 0) state = 1;
  auto next = [&state] {  // xorshift64*: cheap, values in [-1, 1)
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<float>(static_cast<double>((state * 0x2545F4914F6CDD1Dull) >> 40) / 8388608.0 - 1.0);
  };
  for (std::int64_t layer = 0; layer < cache_.layers(); ++layer) {
    for (std::int32_t b : blocks) {
      float* k = cache_.k(layer, b, 0);
      float* v = cache_.v(layer, b, 0);
      for (std::int64_t i = 0; i < row; ++i) {
        k[i] = next();
        v[i] = next();
      }
    }
  }
  return Status::ok();
}

Result<DeviceDescription> CpuProfileBackend::describe_device(bool quick) {
  DeviceDescription d;
  d.kind = "cpu";
  d.threads = backend_.threads();
  d.name = "CPU: " + cpu_model_name() + " (" + std::to_string(d.threads) + " threads)";
  d.copy_bytes_per_s = measure_copy_bytes_per_s(d.threads, quick ? (32ll << 20) : (256ll << 20), quick ? 3 : 5);
  d.peak_flops = measure_peak_f32_flops(d.threads, quick ? 2'000'000 : 20'000'000, quick ? 2 : 3);
  d.flops_method = peak_flops_method();
  d.memory_bytes = physical_memory_bytes();
  d.kv_dtype = "f32";
  if (!(d.copy_bytes_per_s > 0) || !(d.peak_flops > 0)) {
    return internal_error("describe_device: a benchmark measured no time (copy " + std::to_string(d.copy_bytes_per_s) +
                          " B/s, " + std::to_string(d.peak_flops) + " FLOP/s)");
  }
  return d;
}

}  // namespace chatscale::engine
