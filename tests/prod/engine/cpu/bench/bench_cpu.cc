// chatscale_engine_bench_cpu: tokens/s of the threaded CpuBackend against the plain single-threaded
// ReferenceModel, side by side in one run, on a random model built in memory. Decode at batch 1, 8
// and 32 with a context of 512 (the KV history is filled with random values rather than prefilled, so
// the set-up is quick), and a prefill of 512 tokens. Each figure is the median over --reps timed
// repetitions after one warm-up (the reference: --ref-reps, default 3; 1 for its 512-token prefill).
//
//   chatscale_engine_bench_cpu [--dtype q8_0|f32|f16|bf16] [--threads N] [--reps N] [--ref-reps N]
//                              [--no-ref] [--llama1b]
//
// --llama1b uses the Llama-3.2-1B shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192,
// vocab 128256) and turns the reference off (it would need 5 GB of f32 weights).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "prod/engine/cpu/cpu_backend.h"
#include "prod/engine/cpu/kernels.h"
#include "prod/engine/cpu/reference.h"
#include "prod/engine/cpu/sampler.h"
#include "tests/prod/engine/cpu/random_model.h"

namespace ce = chatscale::engine;

namespace {

constexpr std::int64_t kContext = 512;
constexpr std::int32_t kBlockSize = 16;

struct Args {
  ce::DType dtype = ce::DType::kQ8_0;
  int threads = 0;
  int reps = 5;
  int ref_reps = 3;
  bool ref = true;
  bool llama1b = false;
};

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const bool has_value = i + 1 < argc;
    if (s == "--dtype" && has_value) {
      const std::string d = argv[++i];
      if (d == "q8_0") a.dtype = ce::DType::kQ8_0;
      else if (d == "f32") a.dtype = ce::DType::kF32;
      else if (d == "f16") a.dtype = ce::DType::kF16;
      else if (d == "bf16") a.dtype = ce::DType::kBF16;
      else return false;
    } else if (s == "--threads" && has_value) {
      a.threads = std::stoi(argv[++i]);
    } else if (s == "--reps" && has_value) {
      a.reps = std::max(1, std::stoi(argv[++i]));
    } else if (s == "--ref-reps" && has_value) {
      a.ref_reps = std::max(1, std::stoi(argv[++i]));
    } else if (s == "--no-ref") {
      a.ref = false;
    } else if (s == "--llama1b") {
      a.llama1b = true;
      a.ref = false;
    } else {
      return false;
    }
  }
  return true;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

ce::LlamaConfig shape(bool llama1b) {
  ce::LlamaConfig c;
  c.vocab = llama1b ? 128256 : 32000;
  c.hidden = llama1b ? 2048 : 512;
  c.layers = llama1b ? 16 : 8;
  c.heads = llama1b ? 32 : 8;
  c.kv_heads = llama1b ? 8 : 4;
  c.head_dim = 64;
  c.ffn = llama1b ? 8192 : 1536;
  c.context_length = 4096;
  c.rope_dim = 64;
  c.rope_theta = 500000.0f;
  return c;
}

void fill_random(ce::CpuKvCache& cache) {
  ce::Rng64 rng(99);
  const std::int64_t n = cache.kv_heads() * cache.head_dim();
  for (std::int64_t l = 0; l < cache.layers(); ++l) {
    for (std::int64_t b = 0; b < cache.num_blocks(); ++b) {
      for (std::int64_t s = 0; s < cache.block_size(); ++s) {
        for (std::int64_t i = 0; i < n; ++i) {
          cache.k(l, b, s)[i] = static_cast<float>(rng.uniform() * 2 - 1);
          cache.v(l, b, s)[i] = static_cast<float>(rng.uniform() * 2 - 1);
        }
      }
    }
  }
}

ce::ReferenceSequence random_history(const ce::LlamaConfig& c, std::int64_t len) {
  ce::Rng64 rng(98);
  ce::ReferenceSequence seq;
  seq.length = len;
  seq.k.resize(static_cast<std::size_t>(c.layers));
  seq.v.resize(static_cast<std::size_t>(c.layers));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    for (auto* kv : {&seq.k[static_cast<std::size_t>(l)], &seq.v[static_cast<std::size_t>(l)]}) {
      kv->resize(static_cast<std::size_t>(len * c.kv_heads * c.head_dim));
      for (float& x : *kv) x = static_cast<float>(rng.uniform() * 2 - 1);
    }
  }
  return seq;
}

// Decode tokens/s of the backend at `batch` sequences, each with kContext positions of history.
double backend_decode(ce::CpuBackend& be, const ce::LlamaConfig& c, int batch, int reps) {
  const std::int64_t blocks_per_seq = (kContext + reps + 2 + kBlockSize - 1) / kBlockSize;
  auto cache = ce::CpuKvCache::create(c, blocks_per_seq * batch, kBlockSize);
  if (!cache.is_ok()) return 0;
  fill_random(*cache);
  std::vector<std::vector<std::int32_t>> tables(static_cast<std::size_t>(batch));
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch));
  for (int s = 0; s < batch; ++s) {
    for (std::int64_t b = 0; b < blocks_per_seq; ++b) tables[static_cast<std::size_t>(s)].push_back(static_cast<std::int32_t>(s * blocks_per_seq + b));
    tokens[static_cast<std::size_t>(s)] = (s * 977 + 13) % static_cast<std::int32_t>(c.vocab);
  }
  std::vector<double> times;
  for (int step = 0; step <= reps; ++step) {
    ce::ForwardBatch fb;
    for (int s = 0; s < batch; ++s) {
      const auto i = static_cast<std::size_t>(s);
      fb.seqs.push_back({.seq_id = i, .tokens = std::span(&tokens[i], 1), .start_pos = kContext + step, .block_table = tables[i]});
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto r = be.forward(fb, *cache);
    if (!r.is_ok()) return 0;
    if (step > 0) times.push_back(seconds_since(t0));  // step 0 is the warm-up
  }
  return batch / median(times);
}

double reference_decode(const ce::ReferenceModel& ref, const ce::LlamaConfig& c, int batch, int reps) {
  std::vector<ce::ReferenceSequence> seqs;
  for (int s = 0; s < batch; ++s) seqs.push_back(random_history(c, kContext));
  std::vector<double> times;
  for (int step = 0; step < reps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < batch; ++s) {
      const std::int32_t tok = (s * 977 + 13) % static_cast<std::int32_t>(c.vocab);
      if (!ref.forward(seqs[static_cast<std::size_t>(s)], std::span(&tok, 1)).is_ok()) return 0;
    }
    times.push_back(seconds_since(t0));
  }
  return batch / median(times);
}

std::vector<std::int32_t> prompt(const ce::LlamaConfig& c) {
  std::vector<std::int32_t> t(kContext);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::int32_t>((i * 7919 + 1) % static_cast<std::size_t>(c.vocab));
  return t;
}

double backend_prefill(ce::CpuBackend& be, const ce::LlamaConfig& c, int reps) {
  auto cache = ce::CpuKvCache::create(c, kContext / kBlockSize, kBlockSize);
  if (!cache.is_ok()) return 0;
  std::vector<std::int32_t> table(kContext / kBlockSize);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int32_t>(i);
  const std::vector<std::int32_t> tokens = prompt(c);
  std::vector<double> times;
  for (int rep = 0; rep <= reps; ++rep) {
    ce::ForwardBatch fb;
    fb.seqs.push_back({.seq_id = 1, .tokens = tokens, .start_pos = 0, .block_table = table});
    const auto t0 = std::chrono::steady_clock::now();
    if (!be.forward(fb, *cache).is_ok()) return 0;
    if (rep > 0) times.push_back(seconds_since(t0));
  }
  return kContext / median(times);
}

double reference_prefill(const ce::ReferenceModel& ref, const ce::LlamaConfig& c, int reps) {
  const std::vector<std::int32_t> tokens = prompt(c);
  std::vector<double> times;
  for (int rep = 0; rep < reps; ++rep) {
    ce::ReferenceSequence seq;
    const auto t0 = std::chrono::steady_clock::now();
    if (!ref.forward(seq, tokens).is_ok()) return 0;
    times.push_back(seconds_since(t0));
  }
  return kContext / median(times);
}

void row(const char* name, double backend, double reference) {
  if (reference > 0) {
    std::printf("| %-22s | %12.1f | %12.1f | %7.1fx |\n", name, backend, reference, backend / reference);
  } else {
    std::printf("| %-22s | %12.1f | %12s | %8s |\n", name, backend, "-", "-");
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: %s [--dtype q8_0|f32|f16|bf16] [--threads N] [--reps N] [--ref-reps N] [--no-ref] [--llama1b]\n", argv[0]);
    return 2;
  }
  const ce::LlamaConfig c = shape(a.llama1b);
  const auto t0 = std::chrono::steady_clock::now();
  const ce::testing::RandomModel m = ce::testing::make_random_model(c, a.dtype, 1);
  auto be = ce::CpuBackend::create(c, m.weights, {.threads = a.threads});
  if (!be.is_ok()) {
    std::fprintf(stderr, "backend: %s\n", be.status().message().c_str());
    return 1;
  }
  std::printf("machine: %s, nproc %u, AVX2 path %s\n", cpu_model().c_str(), std::thread::hardware_concurrency(),
              ce::cpu::simd_enabled() ? "on" : "off");
  std::printf("model: %s, hidden %lld, layers %lld, heads %lld, kv %lld, ffn %lld, vocab %lld, %s, %.1f MB of weights "
              "(built in %.1f s)\n", a.llama1b ? "Llama-3.2-1B shape" : "small", static_cast<long long>(c.hidden),
              static_cast<long long>(c.layers), static_cast<long long>(c.heads), static_cast<long long>(c.kv_heads),
              static_cast<long long>(c.ffn), static_cast<long long>(c.vocab), std::string(ce::dtype_name(a.dtype)).c_str(),
              static_cast<double>(m.weight_bytes()) / 1e6, seconds_since(t0));
  std::printf("backend threads %d; median of %d reps (backend), %d (reference decode), 1 (reference prefill)\n\n",
              be->threads(), a.reps, a.ref_reps);
  std::optional<ce::ReferenceModel> ref;
  if (a.ref) {
    auto r = ce::ReferenceModel::create(c, m.weights);
    if (r.is_ok()) ref.emplace(std::move(r).value());
  }
  std::printf("| %-22s | %12s | %12s | %8s |\n|%s|%s|%s|%s|\n", "tokens/s", "CpuBackend", "reference", "speedup",
              std::string(24, '-').c_str(), std::string(14, '-').c_str(), std::string(14, '-').c_str(),
              std::string(10, '-').c_str());
  for (int batch : {1, 8, 32}) {
    const std::string name = "decode b" + std::to_string(batch) + " ctx 512";
    const double b = backend_decode(*be, c, batch, a.reps);
    row(name.c_str(), b, ref ? reference_decode(*ref, c, batch, a.ref_reps) : 0);
  }
  const double p = backend_prefill(*be, c, a.reps);
  row("prefill 512", p, ref ? reference_prefill(*ref, c, 1) : 0);
  return 0;
}
