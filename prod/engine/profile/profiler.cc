#include "prod/engine/profile/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

namespace chatscale::engine {
namespace {

std::string point_key(ProfilePhase phase, std::int64_t batch, std::int64_t length) {
  return "B" + std::to_string(batch) + (phase == ProfilePhase::kDecode ? "_C" : "_T") + std::to_string(length);
}

std::string point_name(ProfilePhase phase, std::int64_t batch, std::int64_t length) {
  return std::string(phase == ProfilePhase::kDecode ? "decode" : "prefill") + " point " +
         point_key(phase, batch, length);
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Positions one sequence of a point occupies: decode writes position C, prefill [0, L).
std::int64_t positions(ProfilePhase phase, std::int64_t length) {
  return phase == ProfilePhase::kDecode ? length + 1 : length;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Status check_list(const std::vector<std::int64_t>& list, const char* flag) {
  if (list.empty()) return invalid_argument(std::string(flag) + ": the list is empty");
  for (std::int64_t x : list) {
    if (x <= 0) return invalid_argument(std::string(flag) + ": " + std::to_string(x) + " is not a positive integer");
    if (std::count(list.begin(), list.end(), x) > 1) {
      return invalid_argument(std::string(flag) + ": " + std::to_string(x) + " is listed twice");
    }
  }
  return Status::ok();
}

// One point's batch: `batch` sequences of `tokens` new tokens at `start`, each over its own blocks.
struct PointBatch {
  std::vector<std::vector<std::int32_t>> tokens;
  std::vector<std::vector<std::int32_t>> tables;
  ForwardBatch forward;
};

void build_batch(PointBatch& pb, std::int64_t batch, std::int64_t tokens, std::int64_t start, std::int64_t blocks_per_seq,
                 std::int64_t vocab, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(vocab - 1));
  pb.tokens.assign(static_cast<std::size_t>(batch), {});
  pb.tables.assign(static_cast<std::size_t>(batch), {});
  pb.forward.seqs.clear();
  for (std::int64_t s = 0; s < batch; ++s) {
    auto& t = pb.tokens[static_cast<std::size_t>(s)];
    auto& table = pb.tables[static_cast<std::size_t>(s)];
    for (std::int64_t i = 0; i < tokens; ++i) t.push_back(token(rng));
    table.resize(static_cast<std::size_t>(blocks_per_seq));
    std::iota(table.begin(), table.end(), static_cast<std::int32_t>(s * blocks_per_seq));
    SeqSlice slice;
    slice.seq_id = static_cast<std::uint64_t>(s + 1);
    slice.tokens = t;
    slice.start_pos = start;
    slice.block_table = table;
    pb.forward.seqs.push_back(slice);
  }
}

void want_logits(ForwardBatch& batch, bool want) {
  for (SeqSlice& s : batch.seqs) s.want_logits = want;
}

}  // namespace

std::string ProfilePoint::key() const { return point_key(phase, batch, length); }

Status validate_grid(const ProfileGrid& grid) {
  CS_RETURN_IF_ERROR(check_list(grid.batches, "--batches"));
  CS_RETURN_IF_ERROR(check_list(grid.contexts, "--contexts"));
  CS_RETURN_IF_ERROR(check_list(grid.prefill_lengths, "--prefill-lengths"));
  CS_RETURN_IF_ERROR(check_list(grid.prefill_batches, "--prefill-batches"));
  if (std::find(grid.prefill_batches.begin(), grid.prefill_batches.end(), 1) == grid.prefill_batches.end()) {
    return invalid_argument("--prefill-batches: must include 1 (chatscale-gpu-profile/1 records batch-1 prefill)");
  }
  if (grid.repeats < 1) return invalid_argument("--repeats: must be at least 1, got " + std::to_string(grid.repeats));
  if (grid.warmup < 0) return invalid_argument("--warmup: must be at least 0, got " + std::to_string(grid.warmup));
  return Status::ok();
}

Result<KvPlan> plan_kv(const ProfileGrid& grid, const LlamaConfig& config, std::int32_t block_size,
                       double bytes_per_block, double kv_budget_bytes) {
  CS_RETURN_IF_ERROR(validate_grid(grid));
  if (block_size <= 0) return invalid_argument("block size must be positive, got " + std::to_string(block_size));
  KvPlan plan;
  auto visit = [&](ProfilePhase phase, std::int64_t batch, std::int64_t length) -> Status {
    const std::int64_t pos = positions(phase, length);
    if (pos > config.context_length) {
      return invalid_argument(point_name(phase, batch, length) + ": needs " + std::to_string(pos) +
                              " positions per sequence, past the model's context length " +
                              std::to_string(config.context_length));
    }
    const std::int64_t blocks = batch * ceil_div(pos, block_size);
    const double bytes = static_cast<double>(blocks) * bytes_per_block;
    if (kv_budget_bytes > 0 && bytes > kv_budget_bytes) {
      char text[160];
      std::snprintf(text, sizeof text, ": needs %.3f GiB of KV cache (%lld blocks of %d tokens), over the budget of %.3f GiB",
                    bytes / 1073741824.0, static_cast<long long>(blocks), block_size, kv_budget_bytes / 1073741824.0);
      return invalid_argument(point_name(phase, batch, length) + text);
    }
    plan.blocks = std::max(plan.blocks, blocks);
    return Status::ok();
  };
  for (std::int64_t c : grid.contexts) {
    for (std::int64_t b : grid.batches) CS_RETURN_IF_ERROR(visit(ProfilePhase::kDecode, b, c));
  }
  for (std::int64_t l : grid.prefill_lengths) {
    for (std::int64_t b : grid.prefill_batches) CS_RETURN_IF_ERROR(visit(ProfilePhase::kPrefill, b, l));
  }
  plan.bytes = static_cast<double>(plan.blocks) * bytes_per_block;
  return plan;
}

Result<ProfilePoint> Profiler::measure(ProfilePhase phase, std::int64_t batch, std::int64_t length,
                                       const ProfileGrid& grid) {
  const LlamaConfig& c = backend_.config();
  const bool decode = phase == ProfilePhase::kDecode;
  PointBatch pb;
  build_batch(pb, batch, decode ? 1 : length, decode ? length : 0, ceil_div(positions(phase, length), backend_.block_size()),
              c.vocab, static_cast<std::uint64_t>(batch * 1000003 + length));
  std::vector<float> logits(static_cast<std::size_t>(batch * c.vocab));
  using Clock = std::chrono::steady_clock;
  auto time_one = [&](bool with_logits) -> Result<double> {
    want_logits(pb.forward, with_logits);
    const Clock::time_point t0 = Clock::now();
    CS_RETURN_IF_ERROR(backend_.forward(pb.forward, logits));
    CS_RETURN_IF_ERROR(backend_.synchronize());
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  for (int w = 0; w < grid.warmup; ++w) {
    CS_ASSIGN_OR_RETURN(double ignored, time_one(false));
    (void)ignored;
  }
  std::vector<double> layers_only, with_head;
  for (int r = 0; r < grid.repeats; ++r) {
    CS_ASSIGN_OR_RETURN(double a, time_one(false));
    CS_ASSIGN_OR_RETURN(double b, time_one(true));
    layers_only.push_back(a);
    with_head.push_back(b);
  }
  ProfilePoint p;
  p.phase = phase;
  p.batch = batch;
  p.length = length;
  p.layers_ms = median(layers_only);
  p.with_head_ms = median(with_head);
  // A clock too coarse for the point (never seen on Linux) must not give a zero the format rejects.
  p.layers_ms = std::max(p.layers_ms, 1e-6);
  p.layer_ms = p.layers_ms / static_cast<double>(std::max<std::int64_t>(c.layers, 1));
  return p;
}

Result<ProfileResult> Profiler::run(const ProfileGrid& grid, bool quick_device, const Progress& progress) {
  const LlamaConfig& c = backend_.config();
  CS_ASSIGN_OR_RETURN(KvPlan plan, plan_kv(grid, c, backend_.block_size(), 0, 0));
  if (plan.blocks > backend_.num_blocks()) {
    return invalid_argument("the grid needs " + std::to_string(plan.blocks) + " KV blocks, the backend has " +
                            std::to_string(backend_.num_blocks()));
  }
  ProfileResult result;
  result.config = c;
  result.grid = grid;
  result.block_size = backend_.block_size();
  CS_ASSIGN_OR_RETURN(result.device, backend_.describe_device(quick_device));
  std::vector<std::int32_t> blocks(static_cast<std::size_t>(plan.blocks));
  std::iota(blocks.begin(), blocks.end(), 0);
  CS_RETURN_IF_ERROR(backend_.fill_kv_random(blocks, 1));
  auto add = [&](ProfilePhase phase, std::int64_t b, std::int64_t len) -> Status {
    CS_ASSIGN_OR_RETURN(ProfilePoint p, measure(phase, b, len, grid));
    if (progress) progress(p);
    result.points.push_back(p);
    return Status::ok();
  };
  for (std::int64_t ctx : grid.contexts) {
    for (std::int64_t b : grid.batches) CS_RETURN_IF_ERROR(add(ProfilePhase::kDecode, b, ctx));
  }
  for (std::int64_t len : grid.prefill_lengths) {
    for (std::int64_t b : grid.prefill_batches) CS_RETURN_IF_ERROR(add(ProfilePhase::kPrefill, b, len));
  }
  for (std::int64_t b : grid.batches) {
    std::vector<double> diffs;
    for (const ProfilePoint& p : result.points) {
      if (p.phase == ProfilePhase::kDecode && p.batch == b) diffs.push_back(p.with_head_ms - p.layers_ms);
    }
    LmHeadPoint h;
    h.batch = b;
    h.ms = median(diffs);
    if (!(h.ms > kLmHeadFloorMs)) {
      h.ms = kLmHeadFloorMs;
      h.clamped = true;
    }
    result.lm_head.push_back(h);
  }
  return result;
}

Result<ProfileResult> profile_cpu(const LlamaConfig& config, const LlamaWeights& weights, const ProfileGrid& grid,
                                  const CpuProfileOptions& options, const Profiler::Progress& progress) {
  const double per_block = static_cast<double>(CpuKvCache::bytes_per_block(config, options.block_size));
  CS_ASSIGN_OR_RETURN(KvPlan plan, plan_kv(grid, config, options.block_size, per_block, options.kv_budget_bytes));
  CS_ASSIGN_OR_RETURN(auto backend,
                      CpuProfileBackend::create(config, weights, plan.blocks, options.block_size, options.threads));
  Profiler profiler(*backend);
  return profiler.run(grid, options.quick_device, progress);
}

}  // namespace chatscale::engine
