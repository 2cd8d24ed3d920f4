// The physics of the GPU iteration-time model: each kernel of a decoder layer costs a roofline time
// (memory traffic over achievable bandwidth, FLOPs over achievable tensor-core rate, joined by a smooth
// maximum) plus a fixed per-kernel overhead; tensor parallelism splits heads and MLP width across GPUs
// and adds two all-reduces per layer over NVLink. A host/device pipeline turns the kernels into
// elapsed time: with a CUDA graph the GPU runs them back to back; in eager mode the host launches each
// one, and a GPU that outruns the host waits for it.
//
// Ownership: plain values and free functions. Thread-safety: pure functions. Failure: none; sizes are
// clamped to be non-negative, and tensor-parallel splits round up (see check_tensor_parallel()).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gpu/shapes.h"

namespace chatscale {

// The parameters fitted to a calibration profile. Efficiencies are relative to the profile's measured
// copy bandwidth and large-GEMM rate (not the datasheet's peaks).
struct FitParams {
  double memory_efficiency = 0.95;             // weight streaming, activations, elementwise kernels
  double attention_memory_efficiency = 0.85;   // decode attention reading the KV cache
  double gemm_efficiency = 0.9;                // projections (QKV, output, gate/up, down, LM head)
  double attention_compute_efficiency = 0.5;   // causal flash attention over prompt tokens
  double roofline_sharpness = 4;               // p in (mem^p + compute^p)^(1/p); large p: a hard max
  double kernel_overhead_s = 5e-6;             // GPU-side gap and ramp per kernel
  double eager_launch_s = 30e-6;               // host time to launch one kernel outside a CUDA graph
};

enum class LaunchMode {
  kCudaGraph,  // the whole step replays as one graph (engines do this for decode-only batches)
  kEager,      // the host launches kernel by kernel (prefill and mixed batches)
};

// One kernel (or a few fused as one step, `launches` of them) and its GPU time including overheads.
struct KernelTime {
  std::string_view op;
  double seconds = 0;
  int launches = 1;
};

// Roofline costs on one GPU for elements of `dtype_bytes` bytes.
class Roofline {
 public:
  Roofline(const GpuSpecs& gpu, const FitParams& params, std::int64_t dtype_bytes);

  // Smooth maximum of a memory time and a compute time.
  double combine(double memory_s, double compute_s) const;
  double memory_s(double bytes, double efficiency) const;
  double compute_s(double flops, double efficiency) const;
  // [m x k] x [k x n]: reads both operands, writes the product.
  double gemm_s(double m, double n, double k) const;
  // Elementwise or normalisation kernel moving `bytes`.
  double elementwise_s(double bytes) const;
  // Ring all-reduce of `bytes` across `tp` GPUs over NVLink, with a fixed latency.
  double allreduce_s(double bytes, int tp) const;
  // All-gather of `bytes` in total (each GPU holds 1/tp of it).
  double allgather_s(double bytes, int tp) const;

  const FitParams& params() const { return params_; }
  std::int64_t dtype_bytes() const { return dtype_bytes_; }

 private:
  GpuSpecs gpu_;
  FitParams params_;
  std::int64_t dtype_bytes_;
  double flops_;
};

// The kernels of one decoder layer on one GPU of a tensor-parallel group of `tp`, in launch order.
std::vector<KernelTime> layer_kernels(const Roofline& r, const ModelShape& shape, const IterationShape& it, int tp);
// The final norm, the LM head projection of the iteration's logit rows and (tp > 1) the gather of logits.
std::vector<KernelTime> lm_head_kernels(const Roofline& r, const ModelShape& shape, const IterationShape& it, int tp);

// Host/device pipeline. The host spends `launch_s` per kernel launch (0 for a CUDA graph); a kernel
// starts when it has been launched and the previous one has finished.
class KernelPipeline {
 public:
  explicit KernelPipeline(double launch_s) : launch_s_(launch_s) {}
  void run(const KernelTime& k);
  void run_all(const std::vector<KernelTime>& kernels);
  double elapsed_s() const { return gpu_done_s_; }

 private:
  double launch_s_;
  double host_s_ = 0;
  double gpu_done_s_ = 0;
};

}  // namespace chatscale
