// CudaModel's forward pass: staging a batch into the fixed buffers, the kernel sequence of one step,
// and the per-batch-size CUDA graphs of decode.
#include <string>

#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/cuda_model.h"
#include "prod/engine/cuda/kernels.h"

namespace chatscale::gpu {

Result<int> CudaModel::stage_inputs(const engine::ForwardBatch& batch, bool decode_only) {
  const int max_blocks = options_.max_blocks_per_seq;
  std::vector<std::int32_t> tokens, positions, seq_of_row;
  std::vector<std::int32_t> tables(batch.seqs.size() * static_cast<size_t>(max_blocks), 0);
  if (batch.seqs.empty() || static_cast<int>(batch.seqs.size()) > options_.max_rows)
    return invalid_argument("CudaModel: batch needs 1.." + std::to_string(options_.max_rows) + " sequences");
  for (size_t s = 0; s < batch.seqs.size(); ++s) {
    const auto& slice = batch.seqs[s];
    const std::int64_t n = static_cast<std::int64_t>(slice.tokens.size());
    if (n == 0 || (decode_only && n != 1))
      return invalid_argument("CudaModel: slice " + std::to_string(s) + " has " + std::to_string(n) +
                              (decode_only ? " tokens, decode needs 1" : " tokens"));
    const std::int64_t last = slice.start_pos + n - 1;
    if (slice.start_pos < 0 || last >= max_context_ ||
        last / options_.block_size >= static_cast<std::int64_t>(slice.block_table.size()) ||
        static_cast<int>(slice.block_table.size()) > max_blocks)
      return invalid_argument("CudaModel: slice " + std::to_string(s) + " positions up to " + std::to_string(last) +
                              " exceed its block table or the maximum context " + std::to_string(max_context_));
    for (size_t b = 0; b < slice.block_table.size(); ++b) {
      const std::int32_t block = slice.block_table[b];
      if (block < 0 || block >= options_.num_blocks)
        return invalid_argument("CudaModel: slice " + std::to_string(s) + " names KV block " +
                                std::to_string(block) + " of " + std::to_string(options_.num_blocks));
      tables[s * static_cast<size_t>(max_blocks) + b] = block;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t t = slice.tokens[static_cast<size_t>(i)];
      if (t < 0 || t >= config_.vocab)
        return invalid_argument("CudaModel: token " + std::to_string(t) + " outside the vocabulary");
      tokens.push_back(t);
      positions.push_back(static_cast<std::int32_t>(slice.start_pos + i));
      seq_of_row.push_back(static_cast<std::int32_t>(s));
    }
  }
  const int rows = static_cast<int>(tokens.size());
  if (rows > options_.max_rows)
    return invalid_argument("CudaModel: " + std::to_string(rows) + " tokens exceed max_rows " +
                            std::to_string(options_.max_rows));
  // Pageable sources: the copies return once the host data has been staged.
  CS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(tokens_, tokens.data(), rows * 4, cudaMemcpyHostToDevice, stream_));
  CS_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(positions_, positions.data(), rows * 4, cudaMemcpyHostToDevice, stream_));
  CS_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(seq_of_row_, seq_of_row.data(), rows * 4, cudaMemcpyHostToDevice, stream_));
  CS_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(block_tables_, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice, stream_));
  CS_RETURN_IF_ERROR(synchronize());  // the host vectors die here
  return rows;
}

Status CudaModel::enqueue_step(int rows) {
  const auto& c = config_;
  const int hidden = int(c.hidden), heads = int(c.heads), kvh = int(c.kv_heads), hd = int(c.head_dim);
  const int q_dim = heads * hd, qkv_dim = (heads + 2 * kvh) * hd, ffn = int(c.ffn), vocab = int(c.vocab);
  const int bs = options_.block_size, max_blocks = options_.max_blocks_per_seq;
  CS_RETURN_IF_ERROR(embedding_launch(embd_, tokens_, x_, rows, hidden, vocab, stream_));
  for (const Layer& l : layers_) {
    CS_RETURN_IF_ERROR(rmsnorm_f32_bf16_launch(x_, l.attn_norm, normed_, rows, hidden, c.rms_eps, stream_));
    CS_RETURN_IF_ERROR(gemm_->linear_f32_out(GemmType::kBF16, normed_, l.wqkv, qkv_, rows, hidden, qkv_dim));
    CS_RETURN_IF_ERROR(rope_kv_write_launch(qkv_, positions_, seq_of_row_, inv_freq_, block_tables_, max_blocks,
                                            l.k_cache, l.v_cache, rows, heads, kvh, hd, int(c.rope_dim), bs, stream_));
    CS_RETURN_IF_ERROR(attention_launch(qkv_, positions_, seq_of_row_, block_tables_, max_blocks, l.k_cache,
                                        l.v_cache, partial_, attn_, rows, heads, kvh, hd, bs, max_context_,
                                        stream_));
    CS_RETURN_IF_ERROR(gemm_->linear_f32_out(GemmType::kBF16, attn_, l.wo, x_, rows, q_dim, hidden, 1.f, 1.f));
    CS_RETURN_IF_ERROR(rmsnorm_f32_bf16_launch(x_, l.ffn_norm, normed_, rows, hidden, c.rms_eps, stream_));
    CS_RETURN_IF_ERROR(gemm_->linear_f32_out(GemmType::kBF16, normed_, l.w_gate_up, gate_up_, rows, hidden, 2 * ffn));
    CS_RETURN_IF_ERROR(silu_mul_launch(gate_up_, act_, rows, ffn, stream_));
    CS_RETURN_IF_ERROR(gemm_->linear_f32_out(GemmType::kBF16, act_, l.w_down, x_, rows, ffn, hidden, 1.f, 1.f));
  }
  CS_RETURN_IF_ERROR(rmsnorm_f32_bf16_launch(x_, output_norm_, normed_, rows, hidden, c.rms_eps, stream_));
  CS_RETURN_IF_ERROR(gemm_->linear_f32_out(GemmType::kBF16, normed_, output_, logits_, rows, hidden, vocab));
  return argmax_launch(logits_, next_, rows, vocab, stream_);
}

// Copies back only the last row of each slice that wants logits (one copy when every slice is one
// token and wants them); the other rows stay zero.
Result<std::vector<float>> CudaModel::read_logits(const engine::ForwardBatch& batch, int rows) {
  const size_t vocab = static_cast<size_t>(config_.vocab);
  std::vector<float> out(batch.seqs.size() * vocab);
  size_t wanted = 0;
  for (const auto& slice : batch.seqs) wanted += slice.want_logits ? 1 : 0;
  if (static_cast<size_t>(rows) == batch.seqs.size() && wanted == batch.seqs.size()) {
    CS_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(out.data(), logits_, out.size() * 4, cudaMemcpyDeviceToHost, stream_));
  } else if (wanted > 0) {
    size_t row = 0;
    for (size_t s = 0; s < batch.seqs.size(); ++s) {
      row += batch.seqs[s].tokens.size();
      if (!batch.seqs[s].want_logits) continue;
      CS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out.data() + s * vocab, logits_ + (row - 1) * vocab, vocab * 4,
                                              cudaMemcpyDeviceToHost, stream_));
    }
  }
  CS_RETURN_IF_ERROR(synchronize());
  return out;
}

Result<std::vector<float>> CudaModel::forward(const engine::ForwardBatch& batch) {
  CS_ASSIGN_OR_RETURN(int rows, stage_inputs(batch, false));
  CS_RETURN_IF_ERROR(enqueue_step(rows));
  return read_logits(batch, rows);
}

Status CudaModel::stage(const engine::ForwardBatch& batch) { return stage_inputs(batch, true).status(); }

Status CudaModel::replay(int rows) {
  if (rows <= 0 || rows > options_.max_rows) return invalid_argument("CudaModel::replay: bad row count");
  auto it = graphs_.find(rows);
  if (it == graphs_.end()) {
    // An eager step first (loads the kernels and lets cuBLAS pick its algorithms outside the capture);
    // it writes the same K/V the replay will.
    CS_RETURN_IF_ERROR(enqueue_step(rows));
    CS_RETURN_IF_ERROR(synchronize());
    CS_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    Status captured = enqueue_step(rows);
    cudaGraph_t graph = nullptr;
    cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!captured.is_ok()) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      return captured;
    }
    CS_CUDA_RETURN_IF_ERROR(ended);
    cudaGraphExec_t exec = nullptr;
    cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CS_CUDA_RETURN_IF_ERROR(made);
    it = graphs_.emplace(rows, exec).first;
  }
  CS_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(it->second, stream_));
  return Status::ok();
}

Result<std::vector<std::int32_t>> CudaModel::decode(const engine::ForwardBatch& batch, std::vector<float>* logits) {
  CS_ASSIGN_OR_RETURN(int rows, stage_inputs(batch, true));
  CS_RETURN_IF_ERROR(replay(rows));
  std::vector<std::int32_t> next(static_cast<size_t>(rows));
  CS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(next.data(), next_, next.size() * 4, cudaMemcpyDeviceToHost, stream_));
  CS_RETURN_IF_ERROR(synchronize());
  if (logits != nullptr) {
    CS_ASSIGN_OR_RETURN(*logits, read_logits(batch, rows));
  }
  return next;
}

}  // namespace chatscale::gpu
