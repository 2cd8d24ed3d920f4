// CudaModel: a Llama-family decoder on one GPU. Holds bf16 weights (uploaded from a LlamaWeights of
// any tensor.h dtype, or generated at random on the device for benchmarks), a paged bf16 KV cache
// ([layer] x [block][kv_head][slot][head_dim], K and V), fixed device buffers for up to max_rows
// tokens per forward, and one CUDA graph per decode batch size (captured on first use, replayed
// after the inputs are copied into the fixed buffers).
// Forward: x = embed; per layer x += Wo attn(rope(qkv(rmsnorm x))); x += Wdown(silu(gate) * up);
// logits = Woutput rmsnorm(x); GEMMs in bf16 on tensor cores with f32 accumulation, the residual
// stream in f32, K/V stored as bf16.
// Owns all device memory and its stream; not thread-safe (one caller at a time). Failure: every CUDA
// and cuBLAS error is returned (kUnavailable without a device, kInternal otherwise); bad shapes or
// batches are kInvalidArgument. Never aborts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/status.h"
#include "prod/engine/cuda/gemm.h"
#include "prod/engine/llama.h"

struct CUstream_st;
struct CUgraphExec_st;

namespace chatscale::gpu {

struct CudaModelOptions {
  int max_rows = 128;          // tokens per forward (decode batch or prefill chunk)
  int block_size = 16;         // KV positions per block
  int num_blocks = 1024;       // KV blocks in the device cache; 0: sized from memory (below)
  // With num_blocks 0: the KV cache takes this fraction of the device memory still free once the
  // weights and the per-forward buffers are allocated (cudaMemGetInfo).
  double kv_memory_utilization = 0.9;
  int max_blocks_per_seq = 128;  // block-table width; max context = max_blocks_per_seq * block_size
};

// Inverse frequencies of RoPE pair i (llama.h): theta^(-2i / rope_dim) / factor[i], the factors from
// rope_freqs when given, else from the Llama-3 scaling parameters, else 1.
std::vector<float> rope_inv_freq(const engine::LlamaConfig& config, const std::vector<float>& rope_freqs);

class CudaModel {
 public:
  static Result<std::unique_ptr<CudaModel>> create(const engine::LlamaConfig& config,
                                                   const engine::LlamaWeights& weights,
                                                   const CudaModelOptions& options);
  // Weights uniform in +-1/sqrt(in) generated on the device; norms 1; output tied to token_embd.
  static Result<std::unique_ptr<CudaModel>> create_random(const engine::LlamaConfig& config,
                                                          const CudaModelOptions& options, std::uint64_t seed);
  ~CudaModel();
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  // Every KV block filled with random values (benchmarks: only timing matters).
  Status fill_kv_random(std::uint64_t seed);

  // One forward over the batch (prefill chunks and/or decode steps; rows <= max_rows), eager launches.
  // Returns the logits of each slice's last token, [seqs][vocab] (rows of slices without want_logits
  // are zero: not copied back), and writes the batch's K/V.
  Result<std::vector<float>> forward(const engine::ForwardBatch& batch);
  // A decode step (every slice one token) through the CUDA graph of its batch size; returns the
  // greedy next token of each slice, and their logits [seqs][vocab] in *logits when non-null (as
  // forward(): rows of slices without want_logits are zero).
  Result<std::vector<std::int32_t>> decode(const engine::ForwardBatch& batch, std::vector<float>* logits);

  // Benchmark hooks: copy a decode batch's inputs into the fixed buffers, then replay (capturing on
  // first use) the graph for `rows` without reading anything back.
  Status stage(const engine::ForwardBatch& batch);
  Status replay(int rows);
  Status synchronize();
  CUstream_st* stream() const { return stream_; }

  // Bytes of weights a decode step reads once (all layers' projections + the output head).
  std::int64_t weight_bytes_per_step() const;
  const engine::LlamaConfig& config() const { return config_; }
  int num_blocks() const { return options_.num_blocks; }  // the cache's actual size (after sizing)
  int block_size() const { return options_.block_size; }
  int max_rows() const { return options_.max_rows; }
  int max_context() const { return max_context_; }
  // Bytes of one KV block over all layers (K and V, bf16).
  std::int64_t kv_bytes_per_block() const;

  struct Layer {
    float* attn_norm = nullptr;
    float* ffn_norm = nullptr;
    std::uint16_t* wqkv = nullptr;     // [q_dim + 2 kv_dim][hidden]
    std::uint16_t* wo = nullptr;       // [hidden][q_dim]
    std::uint16_t* w_gate_up = nullptr;  // [2 ffn][hidden]
    std::uint16_t* w_down = nullptr;   // [hidden][ffn]
    std::uint16_t* k_cache = nullptr;
    std::uint16_t* v_cache = nullptr;
  };

 private:
  CudaModel(const engine::LlamaConfig& config, const CudaModelOptions& options);
  Status allocate();
  Status allocate_kv();  // after the weights: sizes the cache from free memory when num_blocks is 0
  template <typename T>
  Result<T*> alloc(std::int64_t count);
  Status upload(const engine::LlamaWeights& weights);
  Status randomize(std::uint64_t seed);
  Status enqueue_step(int rows);
  Result<int> stage_inputs(const engine::ForwardBatch& batch, bool decode_only);
  Result<std::vector<float>> read_logits(const engine::ForwardBatch& batch, int rows);

  engine::LlamaConfig config_;
  CudaModelOptions options_;
  int max_context_ = 0;
  CUstream_st* stream_ = nullptr;
  std::unique_ptr<GemmContext> gemm_;
  std::vector<void*> allocations_;
  std::vector<Layer> layers_;
  std::uint16_t* embd_ = nullptr;    // [vocab][hidden]
  std::uint16_t* output_ = nullptr;  // [vocab][hidden] (may alias embd_)
  float* output_norm_ = nullptr;
  float* inv_freq_ = nullptr;
  // Fixed per-forward buffers (max_rows rows).
  std::int32_t* tokens_ = nullptr;
  std::int32_t* positions_ = nullptr;
  std::int32_t* seq_of_row_ = nullptr;
  std::int32_t* block_tables_ = nullptr;  // [max_rows][max_blocks_per_seq]
  float* x_ = nullptr;
  std::uint16_t* normed_ = nullptr;
  float* qkv_ = nullptr;
  std::uint16_t* attn_ = nullptr;
  float* gate_up_ = nullptr;
  std::uint16_t* act_ = nullptr;
  float* partial_ = nullptr;
  float* logits_ = nullptr;
  std::int32_t* next_ = nullptr;
  std::map<int, CUgraphExec_st*> graphs_;
};

}  // namespace chatscale::gpu
