// The profiler's view of an engine backend (ProfileBackend): the minimal interface the CPU backend
// implements now and the CUDA backend is to implement later. It runs one ForwardBatch against the
// backend's own paged KV cache, waits for the device (synchronize), fills KV blocks with random values
// (so a decode point can attend over a context of C without a real prefill of C tokens first) and
// describes the device (name, threads, measured copy bandwidth and peak FLOP/s).
//
// CpuProfileBackend: ProfileBackend over CpuBackend + CpuKvCache (f32 cache); its device description
// comes from /proc/cpuinfo, /proc/meminfo and the benchmarks of profile/cpu_device.h.
//
// Ownership: a CpuProfileBackend owns its CpuBackend and cache and borrows the weights' bytes (they
// must outlive it). Thread-safety: one caller at a time. Failure behaviour: every call returns a
// Status (InvalidArgument for a bad batch or block id, nothing written); nothing throws or aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "prod/engine/cpu/cpu_backend.h"
#include "prod/engine/cpu/kv_cache.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

// The device a profile was measured on, in the terms of format chatscale-gpu-profile/1.
struct DeviceDescription {
  std::string name;             // "NVIDIA H100 80GB HBM3", or "CPU: <model name> (N threads)"
  std::string kind;             // "cpu" or "cuda"
  int threads = 0;              // CPU threads the backend uses (0 for a GPU)
  double copy_bytes_per_s = 0;  // measured copy: bytes read plus written per second
  double peak_flops = 0;        // measured dense FLOP/s (how: flops_method)
  std::string flops_method;     // how peak_flops was obtained
  double memory_bytes = 0;      // device (or host) memory, 0 when unknown
  std::string kv_dtype;         // the KV cache's element type ("f32" on the CPU)
};

class ProfileBackend {
 public:
  virtual ~ProfileBackend() = default;
  virtual const LlamaConfig& config() const = 0;
  virtual std::int32_t block_size() const = 0;
  virtual std::int64_t num_blocks() const = 0;
  // Runs the batch (possibly asynchronously); `logits` holds at least logits_rows(batch) x vocab floats.
  virtual Status forward(const ForwardBatch& batch, std::span<float> logits) = 0;
  // Returns when every forward issued so far has finished on the device.
  virtual Status synchronize() = 0;
  // Writes seeded random K and V (about unit scale) into every slot of `blocks`, all layers.
  virtual Status fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t seed) = 0;
  // Names the device and measures its copy bandwidth and FLOP rate; `quick` shortens the benchmarks.
  virtual Result<DeviceDescription> describe_device(bool quick) = 0;
};

class CpuProfileBackend final : public ProfileBackend {
 public:
  static Result<std::unique_ptr<CpuProfileBackend>> create(const LlamaConfig& config, const LlamaWeights& weights,
                                                           std::int64_t num_blocks, std::int32_t block_size,
                                                           int threads);

  const LlamaConfig& config() const override { return backend_.config(); }
  std::int32_t block_size() const override { return cache_.block_size(); }
  std::int64_t num_blocks() const override { return cache_.num_blocks(); }
  Status forward(const ForwardBatch& batch, std::span<float> logits) override {
    return backend_.forward(batch, cache_, logits);
  }
  Status synchronize() override { return Status::ok(); }  // forward() returns when done
  Status fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t seed) override;
  Result<DeviceDescription> describe_device(bool quick) override;

 private:
  CpuProfileBackend(CpuBackend backend, CpuKvCache cache) : backend_(std::move(backend)), cache_(std::move(cache)) {}

  CpuBackend backend_;
  CpuKvCache cache_;
};

}  // namespace chatscale::engine
