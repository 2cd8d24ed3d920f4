#include "prod/engine/cuda/cuda_model_backend.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "prod/engine/cpu/batch_check.h"

namespace chatscale::gpu {

using engine::ForwardBatch;
using engine::SeqSlice;

Result<CudaModelOptions> CudaModelBackend::model_options(const engine::LlamaConfig& config,
                                                         const CudaBackendOptions& o) {
  if (o.max_rows <= 0 || o.block_size <= 0 || o.num_blocks < 0 || o.max_context < 0 ||
      o.num_blocks > (std::int64_t{1} << 30)) {
    return invalid_argument("CUDA backend: max_rows and block_size must be positive, num_blocks and max_context >= 0");
  }
  std::int64_t context = config.context_length > 0 ? config.context_length : o.max_context;
  if (o.max_context > 0) context = std::min(context, o.max_context);
  if (context <= 1) return invalid_argument("CUDA backend: the context (model's, capped by max_context) must be > 1");
  CudaModelOptions m;
  m.max_rows = o.max_rows;
  m.block_size = o.block_size;
  m.num_blocks = static_cast<int>(o.num_blocks);
  m.kv_memory_utilization = o.kv_memory_utilization;
  m.max_blocks_per_seq = static_cast<int>((context + o.block_size - 1) / o.block_size);
  return m;
}

Result<std::unique_ptr<CudaModelBackend>> CudaModelBackend::create(const engine::LlamaConfig& config,
                                                                   const engine::LlamaWeights& weights,
                                                                   const CudaBackendOptions& options) {
  CS_ASSIGN_OR_RETURN(CudaModelOptions m, model_options(config, options));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<CudaModel> model, CudaModel::create(config, weights, m));
  engine::LlamaConfig capped = config;
  capped.context_length = config.context_length > 0 ? std::min<std::int64_t>(config.context_length, model->max_context())
                                                    : model->max_context();
  return std::unique_ptr<CudaModelBackend>(new CudaModelBackend(std::move(model), capped, options));
}

Result<std::unique_ptr<CudaModelBackend>> CudaModelBackend::create_random(const engine::LlamaConfig& config,
                                                                          const CudaBackendOptions& options,
                                                                          std::uint64_t seed) {
  CS_ASSIGN_OR_RETURN(CudaModelOptions m, model_options(config, options));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<CudaModel> model, CudaModel::create_random(config, m, seed));
  engine::LlamaConfig capped = config;
  capped.context_length = config.context_length > 0 ? std::min<std::int64_t>(config.context_length, model->max_context())
                                                    : model->max_context();
  return std::unique_ptr<CudaModelBackend>(new CudaModelBackend(std::move(model), capped, options));
}

Status CudaModelBackend::validate(const ForwardBatch& batch, std::int64_t logits_capacity) const {
  return engine::check_forward_batch(config_, batch, block_size(), num_blocks(), logits_capacity);
}

Status CudaModelBackend::forward(const ForwardBatch& batch, std::span<float> logits) {
  CS_RETURN_IF_ERROR(validate(batch, static_cast<std::int64_t>(logits.size())));
  if (batch.seqs.empty()) return Status::ok();
  const bool decode = std::all_of(batch.seqs.begin(), batch.seqs.end(),
                                  [](const SeqSlice& s) { return s.tokens.size() == 1; });
  if (!options_.decode_graphs || !decode || static_cast<int>(batch.seqs.size()) > model_->max_rows()) {
    return forward_eager(batch, logits);
  }
  // The model's staging wants block tables no wider than its own: pass the needed prefix.
  ForwardBatch trimmed = batch;
  for (SeqSlice& s : trimmed.seqs) {
    s.block_table = s.block_table.first(static_cast<std::size_t>(s.start_pos / block_size() + 1));
  }
  std::vector<float> all;
  const bool any_logits = engine::logits_rows(batch) > 0;
  CS_ASSIGN_OR_RETURN(std::vector<std::int32_t> next, model_->decode(trimmed, any_logits ? &all : nullptr));
  ++graph_forwards_;
  if (!any_logits) return Status::ok();
  const std::size_t vocab = static_cast<std::size_t>(config_.vocab);
  std::size_t out = 0;
  for (std::size_t i = 0; i < batch.seqs.size(); ++i) {
    if (!batch.seqs[i].want_logits) continue;
    std::memcpy(logits.data() + out * vocab, all.data() + i * vocab, vocab * sizeof(float));
    ++out;
  }
  return Status::ok();
}

// Cuts the batch into device forwards of at most max_rows tokens; a slice cut across forwards keeps
// its order (its earlier piece writes the K/V its later piece reads) and only its last piece may want
// logits.
Status CudaModelBackend::forward_eager(const ForwardBatch& batch, std::span<float> logits) {
  const std::size_t max_rows = static_cast<std::size_t>(model_->max_rows());
  const std::size_t vocab = static_cast<std::size_t>(config_.vocab);
  const std::int64_t bs = block_size();
  ForwardBatch part;
  std::vector<std::int64_t> dest;  // output row of each piece's logits, or -1
  std::size_t rows = 0;
  auto flush = [&]() -> Status {
    if (part.seqs.empty()) return Status::ok();
    CS_ASSIGN_OR_RETURN(std::vector<float> got, model_->forward(part));
    ++eager_forwards_;
    for (std::size_t i = 0; i < dest.size(); ++i) {
      if (dest[i] < 0) continue;
      std::memcpy(logits.data() + static_cast<std::size_t>(dest[i]) * vocab, got.data() + i * vocab,
                  vocab * sizeof(float));
    }
    part.seqs.clear();
    dest.clear();
    rows = 0;
    return Status::ok();
  };
  std::int64_t out_row = 0;
  for (const SeqSlice& s : batch.seqs) {
    std::size_t done = 0;
    while (done < s.tokens.size()) {
      if (rows == max_rows) CS_RETURN_IF_ERROR(flush());
      const std::size_t take = std::min(s.tokens.size() - done, max_rows - rows);
      SeqSlice piece = s;
      piece.tokens = s.tokens.subspan(done, take);
      piece.start_pos = s.start_pos + static_cast<std::int64_t>(done);
      const std::int64_t end = piece.start_pos + static_cast<std::int64_t>(take);
      piece.block_table = s.block_table.first(static_cast<std::size_t>((end + bs - 1) / bs));
      done += take;
      piece.want_logits = s.want_logits && done == s.tokens.size();
      dest.push_back(piece.want_logits ? out_row : -1);
      part.seqs.push_back(piece);
      rows += take;
    }
    if (s.want_logits) ++out_row;
  }
  return flush();
}

}  // namespace chatscale::gpu
