#include "prod/engine/cuda/cuda_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/kernels.h"

namespace chatscale::gpu {
namespace {

using engine::DType;
using engine::TensorView;

constexpr double kPi = 3.14159265358979323846;

Status check_config(const engine::LlamaConfig& c, const CudaModelOptions& o) {
  if (c.vocab <= 0 || c.hidden <= 0 || c.layers <= 0 || c.heads <= 0 || c.kv_heads <= 0 || c.head_dim <= 0 ||
      c.ffn <= 0 || c.heads % c.kv_heads != 0 || c.head_dim % 2 != 0 || c.rope_dim <= 0 ||
      c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    return invalid_argument("CudaModel: bad LlamaConfig (positive sizes, heads % kv_heads == 0, even rope_dim)");
  if (o.max_rows <= 0 || o.block_size <= 0 || o.num_blocks < 0 || o.max_blocks_per_seq <= 0 ||
      !(o.kv_memory_utilization > 0 && o.kv_memory_utilization <= 1))
    return invalid_argument("CudaModel: options must be positive (num_blocks >= 0, utilization in (0, 1])");
  return Status::ok();
}

// Rows of `view` (expected dims {cols, rows}) as bf16 bits, appended to `out`.
Status append_bf16(const TensorView& view, std::int64_t cols, std::int64_t rows, const char* name,
                   std::vector<std::uint16_t>& out) {
  if (view.data == nullptr || view.dims[0] != cols || view.rows() != rows)
    return invalid_argument(std::string("CudaModel: weight ") + name + " missing or not {" +
                            std::to_string(cols) + ", " + std::to_string(rows) + "}");
  std::vector<float> row(static_cast<size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    engine::dequantize(view.dtype, view.row(r), row.data(), cols);
    for (float f : row) out.push_back(engine::f32_to_bf16(f));
  }
  return Status::ok();
}

Result<std::vector<float>> to_f32(const TensorView& view, std::int64_t n, const char* name) {
  if (view.data == nullptr || view.elements() != n)
    return invalid_argument(std::string("CudaModel: weight ") + name + " missing or not " + std::to_string(n) +
                            " elements");
  std::vector<float> out(static_cast<size_t>(n));
  engine::dequantize(view.dtype, view.data, out.data(), n);
  return out;
}

}  // namespace

std::vector<float> rope_inv_freq(const engine::LlamaConfig& c, const std::vector<float>& rope_freqs) {
  const std::int64_t half = c.rope_dim / 2;
  std::vector<float> out(static_cast<size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    double freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / static_cast<double>(c.rope_dim));
    if (static_cast<std::int64_t>(rope_freqs.size()) == half) {
      freq /= rope_freqs[i];
    } else if (c.rope_scaling == engine::RopeScaling::kLlama3) {
      const double wavelen = 2 * kPi / freq;
      const double orig = static_cast<double>(c.rope_original_context);
      const double low_wavelen = orig / c.rope_low_freq_factor;
      const double high_wavelen = orig / c.rope_high_freq_factor;
      if (wavelen > low_wavelen) {
        freq /= c.rope_factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (orig / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
        freq = (1 - smooth) * freq / c.rope_factor + smooth * freq;
      }
    }
    out[static_cast<size_t>(i)] = static_cast<float>(freq);
  }
  return out;
}

CudaModel::CudaModel(const engine::LlamaConfig& config, const CudaModelOptions& options)
    : config_(config), options_(options), max_context_(options.max_blocks_per_seq * options.block_size) {}

CudaModel::~CudaModel() {
  for (auto& [rows, exec] : graphs_) cudaGraphExecDestroy(exec);
  gemm_.reset();
  for (void* p : allocations_) cudaFree(p);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

template <typename T>
Result<T*> CudaModel::alloc(std::int64_t count) {
  void* p = nullptr;
  CS_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, static_cast<size_t>(count) * sizeof(T)));
  allocations_.push_back(p);
  return static_cast<T*>(p);
}

Status CudaModel::allocate() {
  const auto& c = config_;
  const std::int64_t q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
  const std::int64_t rows = options_.max_rows;
  CS_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CS_ASSIGN_OR_RETURN(gemm_, GemmContext::create(stream_));
  layers_.resize(static_cast<size_t>(c.layers));
  for (auto& l : layers_) {
    CS_ASSIGN_OR_RETURN(l.attn_norm, alloc<float>(c.hidden));
    CS_ASSIGN_OR_RETURN(l.ffn_norm, alloc<float>(c.hidden));
    CS_ASSIGN_OR_RETURN(l.wqkv, alloc<std::uint16_t>((q_dim + 2 * kv_dim) * c.hidden));
    CS_ASSIGN_OR_RETURN(l.wo, alloc<std::uint16_t>(c.hidden * q_dim));
    CS_ASSIGN_OR_RETURN(l.w_gate_up, alloc<std::uint16_t>(2 * c.ffn * c.hidden));
    CS_ASSIGN_OR_RETURN(l.w_down, alloc<std::uint16_t>(c.hidden * c.ffn));
  }
  CS_ASSIGN_OR_RETURN(embd_, alloc<std::uint16_t>(c.vocab * c.hidden));
  CS_ASSIGN_OR_RETURN(output_norm_, alloc<float>(c.hidden));
  CS_ASSIGN_OR_RETURN(inv_freq_, alloc<float>(c.rope_dim / 2));
  CS_ASSIGN_OR_RETURN(tokens_, alloc<std::int32_t>(rows));
  CS_ASSIGN_OR_RETURN(positions_, alloc<std::int32_t>(rows));
  CS_ASSIGN_OR_RETURN(seq_of_row_, alloc<std::int32_t>(rows));
  CS_ASSIGN_OR_RETURN(block_tables_, alloc<std::int32_t>(rows * options_.max_blocks_per_seq));
  CS_ASSIGN_OR_RETURN(x_, alloc<float>(rows * c.hidden));
  CS_ASSIGN_OR_RETURN(normed_, alloc<std::uint16_t>(rows * c.hidden));
  CS_ASSIGN_OR_RETURN(qkv_, alloc<float>(rows * (q_dim + 2 * kv_dim)));
  CS_ASSIGN_OR_RETURN(attn_, alloc<std::uint16_t>(rows * q_dim));
  CS_ASSIGN_OR_RETURN(gate_up_, alloc<float>(rows * 2 * c.ffn));
  CS_ASSIGN_OR_RETURN(act_, alloc<std::uint16_t>(rows * c.ffn));
  CS_ASSIGN_OR_RETURN(partial_, alloc<float>(attention_partial_floats(static_cast<int>(rows), int(c.heads),
                                                                      int(c.head_dim), max_context_)));
  CS_ASSIGN_OR_RETURN(logits_, alloc<float>(rows * c.vocab));
  CS_ASSIGN_OR_RETURN(next_, alloc<std::int32_t>(rows));
  return Status::ok();
}

std::int64_t CudaModel::kv_bytes_per_block() const {
  return 2 * 2 * config_.layers * config_.kv_heads * options_.block_size * config_.head_dim;
}

Status CudaModel::allocate_kv() {
  if (options_.num_blocks == 0) {
    std::size_t free_bytes = 0, total_bytes = 0;
    CS_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
    const double budget = static_cast<double>(free_bytes) * options_.kv_memory_utilization;
    const double blocks = budget / static_cast<double>(kv_bytes_per_block());
    if (blocks < 1)
      return failed_precondition("CudaModel: " + std::to_string(free_bytes >> 20) +
                                " MiB free on the device after the weights leaves no room for one KV block of " +
                                std::to_string(kv_bytes_per_block()) + " bytes");
    options_.num_blocks = static_cast<int>(std::min(blocks, 2.0e9));
  }
  const std::int64_t kv_elems = static_cast<std::int64_t>(options_.num_blocks) * config_.kv_heads *
                                options_.block_size * config_.head_dim;
  for (auto& l : layers_) {
    CS_ASSIGN_OR_RETURN(l.k_cache, alloc<std::uint16_t>(kv_elems));
    CS_ASSIGN_OR_RETURN(l.v_cache, alloc<std::uint16_t>(kv_elems));
  }
  return Status::ok();
}

Result<std::unique_ptr<CudaModel>> CudaModel::create(const engine::LlamaConfig& config,
                                                     const engine::LlamaWeights& weights,
                                                     const CudaModelOptions& options) {
  CS_RETURN_IF_ERROR(check_config(config, options));
  if (static_cast<std::int64_t>(weights.layers.size()) != config.layers)
    return invalid_argument("CudaModel: weights have " + std::to_string(weights.layers.size()) + " layers, config " +
                            std::to_string(config.layers));
  std::unique_ptr<CudaModel> model(new CudaModel(config, options));
  CS_RETURN_IF_ERROR(model->allocate());
  CS_RETURN_IF_ERROR(model->upload(weights));
  CS_RETURN_IF_ERROR(model->allocate_kv());
  return model;
}

Result<std::unique_ptr<CudaModel>> CudaModel::create_random(const engine::LlamaConfig& config,
                                                            const CudaModelOptions& options, std::uint64_t seed) {
  CS_RETURN_IF_ERROR(check_config(config, options));
  std::unique_ptr<CudaModel> model(new CudaModel(config, options));
  CS_RETURN_IF_ERROR(model->allocate());
  CS_RETURN_IF_ERROR(model->randomize(seed));
  CS_RETURN_IF_ERROR(model->allocate_kv());
  return model;
}

Status CudaModel::upload(const engine::LlamaWeights& w) {
  const auto& c = config_;
  const std::int64_t q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
  auto copy = [](void* dst, const void* src, size_t bytes) -> Status {
    CS_CUDA_RETURN_IF_ERROR(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return Status::ok();
  };
  std::vector<std::uint16_t> buf;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto& lw = w.layers[i];
    const Layer& l = layers_[i];
    CS_ASSIGN_OR_RETURN(auto an, to_f32(lw.attn_norm, c.hidden, "attn_norm"));
    CS_RETURN_IF_ERROR(copy(l.attn_norm, an.data(), an.size() * 4));
    CS_ASSIGN_OR_RETURN(auto fn, to_f32(lw.ffn_norm, c.hidden, "ffn_norm"));
    CS_RETURN_IF_ERROR(copy(l.ffn_norm, fn.data(), fn.size() * 4));
    buf.clear();
    CS_RETURN_IF_ERROR(append_bf16(lw.wq, c.hidden, q_dim, "wq", buf));
    CS_RETURN_IF_ERROR(append_bf16(lw.wk, c.hidden, kv_dim, "wk", buf));
    CS_RETURN_IF_ERROR(append_bf16(lw.wv, c.hidden, kv_dim, "wv", buf));
    CS_RETURN_IF_ERROR(copy(l.wqkv, buf.data(), buf.size() * 2));
    buf.clear();
    CS_RETURN_IF_ERROR(append_bf16(lw.wo, q_dim, c.hidden, "wo", buf));
    CS_RETURN_IF_ERROR(copy(l.wo, buf.data(), buf.size() * 2));
    buf.clear();
    CS_RETURN_IF_ERROR(append_bf16(lw.w_gate, c.hidden, c.ffn, "w_gate", buf));
    CS_RETURN_IF_ERROR(append_bf16(lw.w_up, c.hidden, c.ffn, "w_up", buf));
    CS_RETURN_IF_ERROR(copy(l.w_gate_up, buf.data(), buf.size() * 2));
    buf.clear();
    CS_RETURN_IF_ERROR(append_bf16(lw.w_down, c.ffn, c.hidden, "w_down", buf));
    CS_RETURN_IF_ERROR(copy(l.w_down, buf.data(), buf.size() * 2));
  }
  buf.clear();
  CS_RETURN_IF_ERROR(append_bf16(w.token_embd, c.hidden, c.vocab, "token_embd", buf));
  CS_RETURN_IF_ERROR(copy(embd_, buf.data(), buf.size() * 2));
  if (w.output.data == nullptr || w.output.data == w.token_embd.data) {
    output_ = embd_;
  } else {
    CS_ASSIGN_OR_RETURN(output_, alloc<std::uint16_t>(c.vocab * c.hidden));
    buf.clear();
    CS_RETURN_IF_ERROR(append_bf16(w.output, c.hidden, c.vocab, "output", buf));
    CS_RETURN_IF_ERROR(copy(output_, buf.data(), buf.size() * 2));
  }
  CS_ASSIGN_OR_RETURN(auto on, to_f32(w.output_norm, c.hidden, "output_norm"));
  CS_RETURN_IF_ERROR(copy(output_norm_, on.data(), on.size() * 4));
  std::vector<float> factors;
  if (w.rope_freqs.n_dims > 0) {
    CS_ASSIGN_OR_RETURN(factors, to_f32(w.rope_freqs, c.rope_dim / 2, "rope_freqs"));
  }
  auto inv = rope_inv_freq(c, factors);
  return copy(inv_freq_, inv.data(), inv.size() * 4);
}

Status CudaModel::randomize(std::uint64_t seed) {
  const auto& c = config_;
  const std::int64_t q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
  auto rnd = [&](std::uint16_t* p, std::int64_t n, std::int64_t in) {
    return fill_random_bf16_launch(p, n, 1.f / std::sqrt(static_cast<float>(in)), seed++, stream_);
  };
  for (auto& l : layers_) {
    CS_RETURN_IF_ERROR(fill_f32_launch(l.attn_norm, c.hidden, 1.f, stream_));
    CS_RETURN_IF_ERROR(fill_f32_launch(l.ffn_norm, c.hidden, 1.f, stream_));
    CS_RETURN_IF_ERROR(rnd(l.wqkv, (q_dim + 2 * kv_dim) * c.hidden, c.hidden));
    CS_RETURN_IF_ERROR(rnd(l.wo, c.hidden * q_dim, q_dim));
    CS_RETURN_IF_ERROR(rnd(l.w_gate_up, 2 * c.ffn * c.hidden, c.hidden));
    CS_RETURN_IF_ERROR(rnd(l.w_down, c.hidden * c.ffn, c.ffn));
  }
  CS_RETURN_IF_ERROR(rnd(embd_, c.vocab * c.hidden, 1));
  output_ = embd_;
  CS_RETURN_IF_ERROR(fill_f32_launch(output_norm_, c.hidden, 1.f, stream_));
  auto inv = rope_inv_freq(c, {});
  CS_CUDA_RETURN_IF_ERROR(cudaMemcpy(inv_freq_, inv.data(), inv.size() * 4, cudaMemcpyHostToDevice));
  return synchronize();
}

Status CudaModel::fill_kv_random(std::uint64_t seed) {
  const std::int64_t kv_elems = static_cast<std::int64_t>(options_.num_blocks) * config_.kv_heads *
                                options_.block_size * config_.head_dim;
  for (auto& l : layers_) {
    CS_RETURN_IF_ERROR(fill_random_bf16_launch(l.k_cache, kv_elems, 1.f, seed++, stream_));
    CS_RETURN_IF_ERROR(fill_random_bf16_launch(l.v_cache, kv_elems, 1.f, seed++, stream_));
  }
  return synchronize();
}

Status CudaModel::synchronize() {
  CS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::ok();
}

std::int64_t CudaModel::weight_bytes_per_step() const {
  const auto& c = config_;
  const std::int64_t q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
  const std::int64_t per_layer = (q_dim + 2 * kv_dim) * c.hidden + c.hidden * q_dim + 3 * c.ffn * c.hidden;
  return 2 * (c.layers * per_layer + c.vocab * c.hidden);
}

}  // namespace chatscale::gpu
