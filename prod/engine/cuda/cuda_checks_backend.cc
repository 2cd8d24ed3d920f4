// The checks of cuda_checks_backend.h.
#include "prod/engine/cuda/cuda_checks_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <thread>

#include "prod/engine/cuda/cuda_model_backend.h"
#include "prod/engine/cuda/cuda_profile_backend.h"
#include "prod/engine/cuda/tiny_llama.h"
#include "prod/engine/profile/profile_json.h"
#include "prod/engine/serving/engine_loop.h"
#include "prod/engine/serving/model_backend.h"
#include "prod/engine/tensor.h"

namespace chatscale::gpu {
namespace {

using engine::ForwardBatch;
using engine::SeqSlice;

constexpr int kBlock = 4, kBlocks = 128;

using Tiny = TinyLlama;

std::unique_ptr<Tiny> tiny() { return make_tiny_llama({}); }

CheckResult fail(const std::string& what, const Status& s) {
  return {false, 0, what + ": " + s.message()};
}

Result<std::unique_ptr<CudaModelBackend>> gpu_backend(const Tiny& m, int max_rows, bool graphs = true) {
  CudaBackendOptions o;
  o.max_rows = max_rows;
  o.num_blocks = kBlocks;
  o.block_size = kBlock;
  o.decode_graphs = graphs;
  return CudaModelBackend::create(m.config, m.weights, o);
}

// Worst max|gpu - ref| / (tol x (max - min of the ref row)) over rows, with the row and values.
struct Compare {
  double worst = 0;
  std::string where;
  void rows(const std::vector<float>& gpu, const std::vector<float>& ref, std::size_t vocab, double tol,
            const std::string& label) {
    for (std::size_t r = 0; r * vocab < ref.size(); ++r) {
      const float* g = gpu.data() + r * vocab;
      const float* f = ref.data() + r * vocab;
      const auto [lo, hi] = std::minmax_element(f, f + vocab);
      const double range = std::max(1e-6, static_cast<double>(*hi - *lo));
      for (std::size_t i = 0; i < vocab; ++i) {
        const double ratio = std::abs(static_cast<double>(g[i]) - f[i]) / (tol * range);
        if (ratio > worst) {
          worst = ratio;
          char buf[200];
          std::snprintf(buf, sizeof buf, "%s row %zu logit %zu: gpu %.5f ref %.5f (range %.4f, tol %.0e x range)",
                        label.c_str(), r, i, g[i], f[i], range, tol);
          where = buf;
        }
      }
    }
  }
  CheckResult result(const std::string& extra) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "worst error/tolerance %.3f; ", worst);
    return {worst <= 1.0, worst, buf + extra + (where.empty() ? "" : "; worst at " + where)};
  }
};

std::vector<std::int32_t> random_tokens(std::size_t n, std::uint32_t seed, std::int64_t vocab) {
  std::mt19937 rng(seed);
  std::vector<std::int32_t> out(n);
  for (auto& t : out) t = static_cast<std::int32_t>(rng() % static_cast<std::uint32_t>(vocab));
  return out;
}

// Runs `batch` on both backends; compares the logits rows.
Status run_both(engine::ModelBackend& gpu, engine::ModelBackend& cpu, const ForwardBatch& batch, Compare& cmp,
                double tol, const std::string& label) {
  const std::size_t vocab = static_cast<std::size_t>(gpu.config().vocab);
  const std::size_t rows = static_cast<std::size_t>(engine::logits_rows(batch));
  std::vector<float> g(rows * vocab), c(rows * vocab);
  CS_RETURN_IF_ERROR(gpu.forward(batch, g));
  CS_RETURN_IF_ERROR(cpu.forward(batch, c));
  cmp.rows(g, c, vocab, tol, label);
  return Status::ok();
}

CheckResult check_backend_vs_cpu() {
  auto m = tiny();
  auto gpu = gpu_backend(*m, 64);
  if (!gpu.is_ok()) return fail("CudaModelBackend::create", gpu.status());
  auto cpu = engine::CpuModelBackend::create(m->config, m->weights, kBlocks, kBlock, {.threads = 2});
  if (!cpu.is_ok()) return fail("CpuModelBackend::create", cpu.status());
  const int steps = 16;
  const std::size_t prompt[2] = {13, 6};
  std::vector<std::int32_t> order(kBlocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  std::vector<std::int32_t> tables[2] = {{order.begin(), order.begin() + 8}, {order.begin() + 8, order.begin() + 14}};
  std::vector<std::int32_t> tokens[2] = {random_tokens(prompt[0] + steps, 11, 128),
                                         random_tokens(prompt[1] + steps, 12, 128)};
  Compare cmp;
  ForwardBatch batch;
  for (int s = 0; s < 2; ++s) {
    batch.seqs.push_back(SeqSlice{static_cast<std::uint64_t>(s + 1), std::span(tokens[s]).first(prompt[s]), 0,
                                  tables[s], true});
  }
  if (Status st = run_both(**gpu, **cpu, batch, cmp, 3e-2, "prefill"); !st.is_ok()) return fail("prefill", st);
  for (int step = 0; step < steps; ++step) {  // teacher-forced: the next token comes from the list
    for (int s = 0; s < 2; ++s) {
      const std::size_t pos = prompt[s] + static_cast<std::size_t>(step);
      batch.seqs[s].tokens = std::span(tokens[s]).subspan(pos, 1);
      batch.seqs[s].start_pos = static_cast<std::int64_t>(pos);
      batch.seqs[s].want_logits = !(step == 8 && s == 0);  // one step with a slice wanting no logits
    }
    Status st = run_both(**gpu, **cpu, batch, cmp, 3e-2, "decode step " + std::to_string(step));
    if (!st.is_ok()) return fail("decode step " + std::to_string(step), st);
  }
  if ((*gpu)->graph_forwards() != steps)
    return {false, 0, "decode went through " + std::to_string((*gpu)->graph_forwards()) + " graph replays, " +
                          std::to_string(steps) + " expected"};
  return cmp.result("prefill 13+6 tokens, 16 decode steps of batch 2 via CUDA graphs");
}

// The same prefill and decode steps on a backend with decode graphs and one without: the graph replays
// must give the eager forwards' logits (same kernels, same inputs; 1e-4 x range allows for cuBLAS
// picking another algorithm inside the capture).
CheckResult check_graph_vs_eager() {
  auto m = tiny();
  auto graphs = gpu_backend(*m, 64, true);
  auto eager = gpu_backend(*m, 64, false);
  if (!graphs.is_ok() || !eager.is_ok()) return fail("create", !graphs.is_ok() ? graphs.status() : eager.status());
  const std::size_t prompt[3] = {3, 17, 9};
  std::vector<std::int32_t> tokens[3], tables[3];
  std::size_t next_pos[3];
  ForwardBatch batch;
  for (int s = 0; s < 3; ++s) {
    tokens[s] = random_tokens(prompt[s] + 12, 60 + s, 128);
    tables[s].resize(10);
    std::iota(tables[s].begin(), tables[s].end(), 10 * s + 3);
    next_pos[s] = prompt[s];
    batch.seqs.push_back(SeqSlice{static_cast<std::uint64_t>(s), std::span(tokens[s]).first(prompt[s]), 0,
                                  tables[s], true});
  }
  Compare cmp;
  if (Status st = run_both(**graphs, **eager, batch, cmp, 1e-4, "prefill"); !st.is_ok()) return fail("prefill", st);
  for (int step = 0; step < 12; ++step) {
    // Batch sizes 3, then 2 and 1 (other graphs), then 3 again (replays of the first graph); a
    // sequence left out of a step resumes at its next position.
    const int seqs = step >= 4 && step < 8 ? (step < 6 ? 2 : 1) : 3;
    ForwardBatch step_batch;
    for (int s = 0; s < seqs; ++s) {
      SeqSlice slice = batch.seqs[static_cast<std::size_t>(s)];
      slice.tokens = std::span(tokens[s]).subspan(next_pos[s]++, 1);
      slice.start_pos = static_cast<std::int64_t>(slice.tokens.data() - tokens[s].data());
      step_batch.seqs.push_back(slice);
    }
    Status st = run_both(**graphs, **eager, step_batch, cmp, 1e-4, "decode step " + std::to_string(step));
    if (!st.is_ok()) return fail("decode step " + std::to_string(step), st);
  }
  if ((*graphs)->graph_forwards() != 12 || (*eager)->graph_forwards() != 0)
    return {false, 0, "graph replays: " + std::to_string((*graphs)->graph_forwards()) + " (12 expected), eager backend " +
                          std::to_string((*eager)->graph_forwards()) + " (0 expected)"};
  return cmp.result("3 sequences, 12 decode steps at batch 3, 2, 1, 3 (graphs) vs eager");
}

// Last-token logits of `prompt` fed in pieces of `chunk` tokens (the whole prompt when 0).
Result<std::vector<float>> prefill(engine::ModelBackend& b, const std::vector<std::int32_t>& prompt,
                                   std::size_t chunk, std::span<const std::int32_t> table) {
  std::vector<float> logits(static_cast<std::size_t>(b.config().vocab));
  if (chunk == 0) chunk = prompt.size();
  for (std::size_t at = 0; at < prompt.size(); at += chunk) {
    const std::size_t n = std::min(chunk, prompt.size() - at);
    ForwardBatch batch;
    batch.seqs.push_back(SeqSlice{7, std::span(prompt).subspan(at, n), static_cast<std::int64_t>(at), table,
                                  at + n == prompt.size()});
    CS_RETURN_IF_ERROR(b.forward(batch, at + n == prompt.size() ? std::span(logits) : std::span<float>()));
  }
  return logits;
}

CheckResult check_chunked_prefill() {
  auto m = tiny();
  auto whole = gpu_backend(*m, 64);
  auto split = gpu_backend(*m, 16);
  auto cpu = engine::CpuModelBackend::create(m->config, m->weights, kBlocks, kBlock, {.threads = 2});
  if (!whole.is_ok() || !split.is_ok() || !cpu.is_ok())
    return fail("create", !whole.is_ok() ? whole.status() : !split.is_ok() ? split.status() : cpu.status());
  const auto prompt = random_tokens(40, 21, 128);
  std::vector<std::int32_t> t1(10), t2(10);
  std::iota(t1.begin(), t1.end(), 30);
  std::iota(t2.begin(), t2.end(), 50);
  auto a = prefill(**whole, prompt, 0, t1);
  auto b = prefill(**split, prompt, 7, t1);
  auto c = prefill(**split, prompt, 0, t2);  // one call, cut 16 + 16 + 8 by max_rows
  auto r = prefill(**cpu, prompt, 0, t1);
  if (!a.is_ok() || !b.is_ok() || !c.is_ok() || !r.is_ok())
    return fail("prefill", !a.is_ok() ? a.status() : !b.is_ok() ? b.status() : !c.is_ok() ? c.status() : r.status());
  Compare cmp;
  const std::size_t vocab = 128;
  cmp.rows(*b, *a, vocab, 1e-2, "chunks of 7 vs whole");
  cmp.rows(*c, *a, vocab, 1e-2, "split by max_rows 16 vs whole");
  cmp.rows(*a, *r, vocab, 3e-2, "whole vs CPU");
  if ((*split)->eager_forwards() != 6 + 3)
    return {false, 0, "expected 6 chunk forwards + 3 split forwards, got " + std::to_string((*split)->eager_forwards())};
  return cmp.result("40-token prompt");
}

CheckResult check_backend_validation() {
  auto m = tiny();
  auto gpu = gpu_backend(*m, 64);
  if (!gpu.is_ok()) return fail("CudaModelBackend::create", gpu.status());
  const std::vector<std::int32_t> toks = {1, 2, 3}, bad_tok = {1, 999}, one = {4};
  const std::vector<std::int32_t> table = {0}, table2 = {1}, outside = {kBlocks};
  struct Case {
    const char* name;
    ForwardBatch batch;
    std::size_t capacity;
  };
  std::vector<Case> cases = {
      {"block id outside the cache", {{SeqSlice{1, toks, 0, outside, true}}}, 128},
      {"seq_id twice", {{SeqSlice{1, toks, 0, table, true}, SeqSlice{1, one, 0, table2, true}}}, 256},
      {"block shared by two slices", {{SeqSlice{1, toks, 0, table, true}, SeqSlice{2, one, 0, table, true}}}, 256},
      {"logits buffer too small", {{SeqSlice{1, toks, 0, table, true}, SeqSlice{2, one, 0, table2, true}}}, 200},
      {"token outside the vocabulary", {{SeqSlice{1, bad_tok, 0, table, true}}}, 128},
      {"block table too short", {{SeqSlice{1, toks, 3, table, true}}}, 128},
      {"positions past the context", {{SeqSlice{1, one, 256, table, true}}}, 128},
      {"empty slice", {{SeqSlice{1, {}, 0, table, true}}}, 128},
  };
  for (const Case& c : cases) {
    std::vector<float> logits(c.capacity, -7.f);
    Status st = (*gpu)->forward(c.batch, logits);
    if (st.code() != StatusCode::kInvalidArgument)
      return {false, 0, std::string(c.name) + ": expected InvalidArgument, got " + (st.is_ok() ? "ok" : st.message())};
    if (std::any_of(logits.begin(), logits.end(), [](float x) { return x != -7.f; }))
      return {false, 0, std::string(c.name) + ": the logits buffer was written"};
  }
  if ((*gpu)->eager_forwards() + (*gpu)->graph_forwards() != 0) return {false, 0, "a refused batch ran on the device"};
  return {true, 0, std::to_string(cases.size()) + " bad batches refused, nothing written"};
}

engine::EngineRequest greedy(std::vector<std::int32_t> ids, std::int64_t max_tokens) {
  engine::EngineRequest r;
  r.prompt_ids = std::move(ids);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

// Every token of the stream up to its final event (an error when one comes instead).
Result<std::vector<std::int32_t>> drain(engine::EngineStream& stream) {
  std::vector<std::int32_t> out;
  for (;;) {
    CS_ASSIGN_OR_RETURN(engine::EngineEvent e, stream.next(std::chrono::seconds(60)));
    if (e.kind == engine::EngineEvent::Kind::kToken) {
      out.push_back(e.token);
    } else if (e.kind == engine::EngineEvent::Kind::kError) {
      return e.error;
    } else {
      return out;
    }
  }
}

std::string show(const std::vector<std::int32_t>& v) {
  std::string s;
  for (std::int32_t t : v) s += (s.empty() ? "" : " ") + std::to_string(t);
  return "[" + s + "]";
}

CheckResult check_loop_batched_alone() {
  auto m = tiny();
  auto gpu = gpu_backend(*m, 64);
  if (!gpu.is_ok()) return fail("CudaModelBackend::create", gpu.status());
  auto loop = engine::EngineLoop::create(**gpu, {.max_num_batched_tokens = 48, .max_num_seqs = 8});
  if (!loop.is_ok()) return fail("EngineLoop::create", loop.status());
  std::vector<engine::EngineRequest> requests;
  for (int i = 0; i < 5; ++i) requests.push_back(greedy(random_tokens(5 + 6 * i, 40 + i, 128), 10));
  std::vector<std::vector<std::int32_t>> alone;
  for (const auto& r : requests) {
    auto s = (*loop)->submit(r);
    if (!s.is_ok()) return fail("submit", s.status());
    auto toks = drain(**s);
    if (!toks.is_ok()) return fail("alone", toks.status());
    alone.push_back(*toks);
  }
  std::vector<std::unique_ptr<engine::EngineStream>> streams;
  for (const auto& r : requests) {
    auto s = (*loop)->submit(r);
    if (!s.is_ok()) return fail("submit", s.status());
    streams.push_back(std::move(s).value());
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto toks = drain(*streams[i]);
    if (!toks.is_ok()) return fail("batched", toks.status());
    if (*toks != alone[i] || toks->size() != 10)
      return {false, 0, "request " + std::to_string(i) + ": batched " + show(*toks) + " alone " + show(alone[i])};
  }
  return {true, 0, "5 requests x 10 greedy tokens, batched == alone (" +
                       std::to_string((*gpu)->graph_forwards()) + " graph and " +
                       std::to_string((*gpu)->eager_forwards()) + " eager forwards)"};
}

CheckResult check_loop_cancel() {
  auto m = tiny();
  auto gpu = gpu_backend(*m, 64);
  if (!gpu.is_ok()) return fail("CudaModelBackend::create", gpu.status());
  auto loop = engine::EngineLoop::create(**gpu, {});
  if (!loop.is_ok()) return fail("EngineLoop::create", loop.status());
  auto s = (*loop)->submit(greedy(random_tokens(20, 50, 128), 0));  // up to the context
  if (!s.is_ok()) return fail("submit", s.status());
  for (int i = 0; i < 2; ++i) {
    auto e = (*s)->next(std::chrono::seconds(60));
    if (!e.is_ok() || e->kind != engine::EngineEvent::Kind::kToken)
      return {false, 0, "no token before the cancel: " + (e.is_ok() ? std::string("final event") : e.status().message())};
  }
  if ((*loop)->stats().kv_used_blocks == 0) return {false, 0, "a running request holds no KV blocks"};
  (*s)->cancel();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    const engine::EngineStats st = (*loop)->stats();
    if (st.kv_used_blocks == 0 && st.in_flight == 0) break;
    if (std::chrono::steady_clock::now() > deadline)
      return {false, 0, "30 s after cancel: " + std::to_string(st.kv_used_blocks) + " KV blocks still used"};
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto again = (*loop)->submit(greedy(random_tokens(8, 51, 128), 3));
  if (!again.is_ok()) return fail("submit after cancel", again.status());
  auto toks = drain(**again);
  if (!toks.is_ok() || toks->size() != 3) return {false, 0, "the loop does not serve after a cancel"};
  return {true, 0, "blocks freed at cancel; the loop serves on"};
}

CheckResult check_profile_tiny() {
  std::string json;
  auto r = tiny_cuda_profile(&json);
  if (!r.is_ok()) return fail("profile_cuda", r.status());
  const auto& d = r->device;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: copy %.0f GB/s, bf16 GEMM %.1f TFLOP/s, %zu points", d.name.c_str(),
                d.copy_bytes_per_s / 1e9, d.peak_flops / 1e12, r->points.size());
  if (r->points.size() != 6 || r->lm_head.size() != 2 || d.kind != "cuda" || d.kv_dtype != "bf16" || d.name.empty() ||
      !(d.copy_bytes_per_s > 0) || !(d.peak_flops > 0) || json.find("\"chatscale-gpu-profile/1\"") == std::string::npos)
    return {false, 0, std::string("unexpected profile: ") + buf};
  for (const auto& p : r->points) {
    if (!(p.layers_ms > 0) || !(p.with_head_ms > 0)) return {false, 0, "point " + p.key() + " has no time"};
  }
  return {true, 0, buf};
}

}  // namespace

Result<engine::ProfileResult> tiny_cuda_profile(std::string* json) {
  auto m = tiny();
  engine::ProfileGrid grid;
  grid.batches = {1, 2};
  grid.contexts = {16, 64};
  grid.prefill_lengths = {16, 32};
  grid.repeats = 2;
  grid.warmup = 1;
  CudaProfileOptions o;
  o.quick_device = true;
  CS_ASSIGN_OR_RETURN(engine::ProfileResult r, profile_cuda(m->config, m->weights, grid, o));
  if (json != nullptr) {
    *json = engine::profile_json(r, "tiny", engine::weight_dtype_bytes(m->weights), "cuda_checks_backend profile_tiny");
  }
  return r;
}

std::vector<NamedCheck> cuda_backend_checks() {
  return {{"backend_vs_cpu", check_backend_vs_cpu},
          {"graph_vs_eager", check_graph_vs_eager},
          {"chunked_prefill", check_chunked_prefill},
          {"backend_validation", check_backend_validation},
          {"loop_batched_alone", check_loop_batched_alone},
          {"loop_cancel", check_loop_cancel},
          {"profile_tiny", check_profile_tiny}};
}

}  // namespace chatscale::gpu
