// chatscale_engine_bench_serving: generated tokens/s of the EngineLoop (scheduler, batch building,
// per-request samplers, token queues, consumer threads) against the same work driven by hand on the
// CpuBackend (one prefill batch of every prompt, then batched greedy decode steps), on one random Q8_0
// model in memory (hidden 512, 4 layers, 8 heads, 4 KV heads, FFN 1536, vocab 4096). N requests of a
// 32-token prompt and 64 generated tokens each, greedy; median of 3 interleaved runs after a warm-up.
//
//   chatscale_engine_bench_serving [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "prod/engine/cpu/cpu_backend.h"
#include "prod/engine/cpu/sampler.h"
#include "prod/engine/serving/engine_loop.h"
#include "tests/prod/engine/cpu/random_model.h"

namespace ce = chatscale::engine;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int32_t kBlock = 16;
constexpr std::int64_t kPrompt = 32;
constexpr std::int64_t kGen = 64;

ce::LlamaConfig shape() {
  ce::LlamaConfig c;
  c.vocab = 4096;
  c.hidden = 512;
  c.layers = 4;
  c.heads = 8;
  c.kv_heads = 4;
  c.head_dim = 64;
  c.ffn = 1536;
  c.context_length = 512;
  c.rope_dim = 64;
  return c;
}

std::vector<std::int32_t> prompt(int r) {
  std::vector<std::int32_t> p(kPrompt);
  for (std::int64_t i = 0; i < kPrompt; ++i) p[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 131 + r * 17 + 3) % 4096);
  return p;
}

double run_loop(const ce::testing::RandomModel& m, int n, int threads) {
  auto backend = std::move(ce::CpuModelBackend::create(m.config, m.weights, 512, kBlock, {.threads = threads})).value();
  auto loop = std::move(ce::EngineLoop::create(*backend, {.max_num_batched_tokens = 2048, .max_num_seqs = 64})).value();
  auto start = Clock::now();
  std::vector<std::unique_ptr<ce::EngineStream>> streams;
  for (int r = 0; r < n; ++r) {
    ce::EngineRequest req;
    req.prompt_ids = prompt(r);
    req.max_tokens = kGen;
    req.sampling.temperature = 0;
    streams.push_back(std::move(loop->submit(std::move(req))).value());
  }
  for (auto& s : streams) {
    for (;;) {
      auto e = s->next(std::chrono::seconds(60));
      if (!e.is_ok() || e->kind != ce::EngineEvent::Kind::kToken) break;
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double run_direct(const ce::testing::RandomModel& m, int n, int threads) {
  auto be = std::move(ce::CpuBackend::create(m.config, m.weights, {.threads = threads})).value();
  auto cache = std::move(ce::CpuKvCache::create(m.config, 512, kBlock)).value();
  const std::int64_t blocks_per_seq = (kPrompt + kGen + kBlock - 1) / kBlock;
  std::vector<std::vector<std::int32_t>> tables(static_cast<std::size_t>(n)), toks(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    for (std::int64_t b = 0; b < blocks_per_seq; ++b) tables[static_cast<std::size_t>(r)].push_back(static_cast<std::int32_t>(r * blocks_per_seq + b));
    toks[static_cast<std::size_t>(r)] = prompt(r);
  }
  std::vector<float> logits(static_cast<std::size_t>(n * m.config.vocab));
  auto start = Clock::now();
  std::vector<std::int32_t> next(static_cast<std::size_t>(n));
  for (std::int64_t step = 0; step < kGen; ++step) {
    ce::ForwardBatch batch;
    for (int r = 0; r < n; ++r) {
      auto& t = toks[static_cast<std::size_t>(r)];
      std::span<const std::int32_t> all(t);
      auto slice = step == 0 ? all : all.subspan(t.size() - 1, 1);
      batch.seqs.push_back({.seq_id = static_cast<std::uint64_t>(r), .tokens = slice,
                            .start_pos = step == 0 ? 0 : static_cast<std::int64_t>(t.size()) - 1,
                            .block_table = tables[static_cast<std::size_t>(r)], .want_logits = true});
    }
    if (!be.forward(batch, cache, logits).is_ok()) return -1;
    for (int r = 0; r < n; ++r) {
      std::span<const float> row(logits.data() + r * m.config.vocab, static_cast<std::size_t>(m.config.vocab));
      toks[static_cast<std::size_t>(r)].push_back(ce::argmax(row));
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median3(double a, double b, double c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::stoi(argv[i + 1]);
  }
  auto m = ce::testing::make_random_model(shape(), ce::DType::kQ8_0, 5);
  std::printf("model: hidden 512, 4 layers, vocab 4096, Q8_0; prompt %lld, %lld generated tokens per request; "
              "threads %d (0: all %u cores)\n",
              static_cast<long long>(kPrompt), static_cast<long long>(kGen), threads, std::thread::hardware_concurrency());
  for (int n : {1, 8, 32}) {
    run_loop(m, n, threads);
    run_direct(m, n, threads);
    double l[3], d[3];
    for (int rep = 0; rep < 3; ++rep) {  // interleaved, so that a load change hits both
      l[rep] = run_loop(m, n, threads);
      d[rep] = run_direct(m, n, threads);
    }
    double loop = median3(l[0], l[1], l[2]);
    double direct = median3(d[0], d[1], d[2]);
    const double tokens = static_cast<double>(n * kGen);
    std::printf("requests %2d: loop %8.1f tok/s  direct CpuBackend %8.1f tok/s  (loop/direct %.3f)\n", n,
                tokens / loop, tokens / direct, direct / loop);
  }
  return 0;
}
