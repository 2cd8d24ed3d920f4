#include "prod/engine/cuda/cuda_profile_backend.h"

#include <algorithm>
#include <string>

#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/device_bench.h"

namespace chatscale::gpu {

Status CudaProfileBackend::fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t seed) {
  for (std::int32_t b : blocks) {
    if (b < 0 || b >= num_blocks()) {
      return invalid_argument("fill_kv_random: block " + std::to_string(b) + " is not in [0, " +
                              std::to_string(num_blocks()) + ")");
    }
  }
  return backend_->model().fill_kv_random(seed);
}

Result<engine::DeviceDescription> CudaProfileBackend::describe_device(bool quick) {
  CS_ASSIGN_OR_RETURN(std::vector<CudaDeviceInfo> devices, cuda_devices());
  engine::DeviceDescription d;
  d.kind = "cuda";
  d.threads = 0;
  d.name = devices.front().name;
  d.memory_bytes = static_cast<double>(devices.front().total_memory_bytes);
  const std::int64_t copy_bytes = quick ? (std::int64_t{256} << 20) : (std::int64_t{1} << 30);
  const int repeats = quick ? 3 : 5, n = quick ? 4096 : 8192;
  CS_ASSIGN_OR_RETURN(d.copy_bytes_per_s, measure_device_copy_bytes_per_s(copy_bytes, repeats));
  CS_ASSIGN_OR_RETURN(d.peak_flops, measure_bf16_gemm_flops(n, repeats));
  d.flops_method = "cuBLAS GemmEx " + std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(n) +
                   " bf16 inputs, f32 accumulation, bf16 output, tensor cores; best of " + std::to_string(repeats);
  d.kv_dtype = "bf16";
  return d;
}

namespace {

// The backend options a grid needs: rows for its largest decode batch and prefill (up to 2048 tokens per
// device forward), a context cap covering its longest point, and exactly the KV blocks it plans.
Result<CudaBackendOptions> options_for(const engine::LlamaConfig& config, const engine::ProfileGrid& grid,
                                       const CudaProfileOptions& options) {
  CS_RETURN_IF_ERROR(engine::validate_grid(grid));
  const double per_block =
      2.0 * 2.0 * static_cast<double>(config.layers * config.kv_heads * options.block_size * config.head_dim);
  CS_ASSIGN_OR_RETURN(engine::KvPlan plan,
                      engine::plan_kv(grid, config, options.block_size, per_block, options.kv_budget_bytes));
  std::int64_t context = 2, rows = 1;
  for (std::int64_t c : grid.contexts) context = std::max(context, c + 1);
  for (std::int64_t l : grid.prefill_lengths) context = std::max(context, l);
  for (std::int64_t b : grid.batches) rows = std::max(rows, b);
  for (std::int64_t l : grid.prefill_lengths)
    for (std::int64_t b : grid.prefill_batches) rows = std::max(rows, std::min<std::int64_t>(l * b, 2048));
  CudaBackendOptions o;
  o.max_rows = static_cast<int>(std::min<std::int64_t>(rows, 4096));
  o.block_size = options.block_size;
  o.num_blocks = std::max<std::int64_t>(plan.blocks, 1);
  o.max_context = context;
  return o;
}

Result<engine::ProfileResult> run(std::unique_ptr<CudaModelBackend> backend, const engine::ProfileGrid& grid,
                                  const CudaProfileOptions& options, const engine::Profiler::Progress& progress) {
  CudaProfileBackend profile_backend(std::move(backend));
  engine::Profiler profiler(profile_backend);
  return profiler.run(grid, options.quick_device, progress);
}

}  // namespace

Result<engine::ProfileResult> profile_cuda(const engine::LlamaConfig& config, const engine::LlamaWeights& weights,
                                           const engine::ProfileGrid& grid, const CudaProfileOptions& options,
                                           const engine::Profiler::Progress& progress) {
  CS_ASSIGN_OR_RETURN(CudaBackendOptions o, options_for(config, grid, options));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<CudaModelBackend> backend, CudaModelBackend::create(config, weights, o));
  return run(std::move(backend), grid, options, progress);
}

Result<engine::ProfileResult> profile_cuda_random(const engine::LlamaConfig& config, const engine::ProfileGrid& grid,
                                                  const CudaProfileOptions& options, std::uint64_t seed,
                                                  const engine::Profiler::Progress& progress) {
  CS_ASSIGN_OR_RETURN(CudaBackendOptions o, options_for(config, grid, options));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<CudaModelBackend> backend, CudaModelBackend::create_random(config, o, seed));
  return run(std::move(backend), grid, options, progress);
}

}  // namespace chatscale::gpu
