// engine_bench_cuda: decode throughput of CudaModel for the Llama-3.2-1B shape (hidden 2048, 16 layers,
// 32 heads, 8 KV heads, head dim 64, FFN 8192, vocab 128256, tied output) with random bf16 weights
// generated on the device and a random KV cache: every sequence of the batch decodes one token at
// position --context (so it attends to --context cached positions plus itself). Per batch size the
// decode step's CUDA graph is replayed --iters times; the median replay time gives tokens/s.
// Also measures device-to-device copy bandwidth (cudaMemcpy of a 1 GiB buffer; bandwidth counts the
// bytes read plus written) and the batch-1 roofline = bandwidth / weight bytes per token.
// Usage: engine_bench_cuda [--out FILE.json] [--batches 1,8,32,64,128] [--context 2048] [--iters 20]
// Exit: 0 done, 1 a CUDA error, 77 no usable GPU.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "prod/engine/cuda/cuda_check.h"
#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_model.h"

namespace {

using namespace chatscale;
using namespace chatscale::gpu;

struct Options {
  std::string out;
  std::vector<int> batches{1, 8, 32, 64, 128};
  int context = 2048;
  int iters = 20;
};

struct Row {
  int batch = 0;
  double median_ms = 0;
  double tokens_per_s = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Result<double> copy_bandwidth_gbs() {
  const size_t bytes = size_t(1) << 30;
  void *a = nullptr, *b = nullptr;
  CS_CUDA_RETURN_IF_ERROR(cudaMalloc(&a, bytes));
  CS_CUDA_RETURN_IF_ERROR(cudaMalloc(&b, bytes));
  cudaEvent_t start, stop;
  CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
  CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop));
  CS_CUDA_RETURN_IF_ERROR(cudaMemset(a, 1, bytes));
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(start));
    CS_CUDA_RETURN_IF_ERROR(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop));
    CS_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop));
    float ms = 0;
    CS_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start, stop));
    if (i > 0) times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * double(bytes) / (median(times) * 1e-3) / 1e9;
}

engine::LlamaConfig llama_1b() {
  engine::LlamaConfig c;
  c.vocab = 128256, c.hidden = 2048, c.layers = 16, c.heads = 32, c.kv_heads = 8, c.head_dim = 64;
  c.ffn = 8192, c.context_length = 131072, c.rms_eps = 1e-5f, c.rope_theta = 500000.f, c.rope_dim = 64;
  c.rope_scaling = engine::RopeScaling::kLlama3, c.rope_factor = 32.f;
  return c;
}

Result<Row> time_batch(CudaModel& model, int batch, int context, int blocks_per_seq, int iters) {
  std::vector<std::int32_t> tokens(static_cast<size_t>(batch));
  std::vector<std::int32_t> tables(static_cast<size_t>(batch) * blocks_per_seq);
  engine::ForwardBatch fb;
  for (int s = 0; s < batch; ++s) {
    tokens[size_t(s)] = (s * 7919 + 13) % 128256;
    for (int b = 0; b < blocks_per_seq; ++b) tables[size_t(s) * blocks_per_seq + b] = s * blocks_per_seq + b;
  }
  for (int s = 0; s < batch; ++s)
    fb.seqs.push_back({std::uint64_t(s), std::span<const std::int32_t>(&tokens[size_t(s)], 1), context,
                       std::span<const std::int32_t>(&tables[size_t(s) * blocks_per_seq], size_t(blocks_per_seq)),
                       true});
  CS_RETURN_IF_ERROR(model.stage(fb));
  for (int i = 0; i < 3; ++i) CS_RETURN_IF_ERROR(model.replay(batch));  // first call captures
  CS_RETURN_IF_ERROR(model.synchronize());
  cudaEvent_t start, stop;
  CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
  CS_CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop));
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(start, model.stream()));
    CS_RETURN_IF_ERROR(model.replay(batch));
    CS_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop, model.stream()));
    CS_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop));
    float ms = 0;
    CS_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  Row row;
  row.batch = batch;
  row.median_ms = median(times);
  row.tokens_per_s = batch / (row.median_ms * 1e-3);
  return row;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    if (a == "--out") {
      o.out = v;
    } else if (a == "--context") {
      o.context = std::atoi(v.c_str());
    } else if (a == "--iters") {
      o.iters = std::atoi(v.c_str());
    } else if (a == "--batches") {
      o.batches.clear();
      for (size_t p = 0; p < v.size();) {
        size_t q = v.find(',', p);
        o.batches.push_back(std::atoi(v.substr(p, q - p).c_str()));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    } else {
      return false;
    }
  }
  for (int b : o.batches)
    if (b <= 0) return false;
  return !o.batches.empty() && o.context > 0 && o.iters > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) {
    std::fprintf(stderr, "usage: engine_bench_cuda [--out F.json] [--batches 1,8,...] [--context N] [--iters N]\n");
    return 2;
  }
  auto devices = cuda_devices();
  if (!devices.is_ok()) {
    std::printf("SKIP: no usable GPU: %s\n", devices.status().message().c_str());
    return 77;
  }
  const std::string device = (*devices)[0].name;
  auto bw = copy_bandwidth_gbs();
  if (!bw.is_ok()) {
    std::printf("FAIL bandwidth: %s\n", bw.status().message().c_str());
    return 1;
  }
  const int max_batch = *std::max_element(opt.batches.begin(), opt.batches.end());
  CudaModelOptions mo;
  mo.max_rows = max_batch;
  mo.block_size = 16;
  mo.max_blocks_per_seq = (opt.context + 1 + mo.block_size - 1) / mo.block_size;
  mo.num_blocks = max_batch * mo.max_blocks_per_seq;
  auto model = CudaModel::create_random(llama_1b(), mo, 1234);
  if (!model.is_ok()) {
    std::printf("FAIL model: %s\n", model.status().message().c_str());
    return 1;
  }
  if (Status s = (*model)->fill_kv_random(99); !s.is_ok()) {
    std::printf("FAIL kv: %s\n", s.message().c_str());
    return 1;
  }
  const double weight_bytes = double((*model)->weight_bytes_per_step());
  const double roofline = *bw * 1e9 / weight_bytes;
  std::printf("device: %s\ncopy bandwidth: %.0f GB/s; weight bytes per step: %.3f GB; batch-1 roofline %.1f tok/s\n",
              device.c_str(), *bw, weight_bytes / 1e9, roofline);
  std::printf("%6s %10s %12s %10s\n", "batch", "ms/step", "tokens/s", "roofline");
  std::vector<Row> rows;
  bool ok = true;
  for (int b : opt.batches) {
    auto row = time_batch(**model, b, opt.context, mo.max_blocks_per_seq, opt.iters);
    if (!row.is_ok()) {
      std::printf("FAIL batch %d: %s\n", b, row.status().message().c_str());
      ok = false;
      break;  // a failed CUDA call may leave the context unusable
    }
    rows.push_back(*row);
    std::printf("%6d %10.3f %12.1f %9.1f%%\n", b, row->median_ms, row->tokens_per_s,
                100.0 * row->tokens_per_s / b / roofline);
    std::fflush(stdout);
  }
  if (!opt.out.empty()) {
    FILE* f = std::fopen(opt.out.c_str(), "w");
    if (f == nullptr) {
      std::printf("FAIL: cannot write %s\n", opt.out.c_str());
      return 1;
    }
    std::fprintf(f, "{\"engine\": \"chatscale-cuda\", \"device\": \"%s\", \"context\": %d, \"iters\": %d,\n",
                 device.c_str(), opt.context, opt.iters);
    std::fprintf(f, " \"copy_bandwidth_gbs\": %.1f, \"weight_bytes_per_token\": %.0f, \"roofline_tokens_per_s\": %.2f,\n",
                 *bw, weight_bytes, roofline);
    std::fprintf(f, " \"results\": [");
    for (size_t i = 0; i < rows.size(); ++i)
      std::fprintf(f, "%s\n  {\"batch\": %d, \"median_ms\": %.4f, \"tokens_per_s\": %.2f, \"roofline_fraction\": %.4f}",
                   i ? "," : "", rows[i].batch, rows[i].median_ms, rows[i].tokens_per_s,
                   rows[i].tokens_per_s / rows[i].batch / roofline);
    std::fprintf(f, "\n ]}\n");
    std::fclose(f);
  }
  return ok ? 0 : 1;
}
