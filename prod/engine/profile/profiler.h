// The engine's profiler: times prefill and decode iterations of a model on a ProfileBackend over a grid
// and produces what format chatscale-gpu-profile/1 records (profile_json.h writes it).
//
// Per grid point, after `warmup` untimed runs, `repeats` timed runs of two forwards each (forward then
// synchronize, steady clock): one with no logits (every layer; the embedding lookup is folded in) and
// one with logits for each sequence's last token (every layer plus final norm and LM head). Medians:
// - decode (B, C): B sequences of one new token at position C each, attending over C cached positions
//   whose K/V the backend filled with random values once before timing (fill_kv_random; no real
//   prefill); layer_ms = median(no logits) / layers.
// - prefill (B, L): B sequences of L new tokens from position 0; layer_ms as above. Format
//   chatscale-gpu-profile/1 holds batch-1 prefill only; points with B > 1 go to the extra tables.
// - LM head (B): the median over the decode contexts of median(with logits) - median(no logits); a
//   difference <= 0 (noise on a tiny vocabulary) is floored to kLmHeadFloorMs and flagged `clamped`.
// Sequences use disjoint block ranges from block 0; tokens are seeded random ids.
//
// Ownership: the Profiler borrows its backend. Thread-safety: one run at a time. Failure: grid and KV
// problems are InvalidArgument naming the point ("decode point B8_C4096: ..."); backend errors pass up.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "prod/engine/llama.h"
#include "prod/engine/profile/profile_backend.h"

namespace chatscale::engine {

inline constexpr double kLmHeadFloorMs = 1e-3;

struct ProfileGrid {
  std::vector<std::int64_t> batches;          // decode batch sizes
  std::vector<std::int64_t> contexts;         // decode contexts (tokens already cached)
  std::vector<std::int64_t> prefill_lengths;  // prompt lengths
  std::vector<std::int64_t> prefill_batches = {1};
  int repeats = 5;
  int warmup = 2;
};

enum class ProfilePhase { kDecode, kPrefill };

struct ProfilePoint {
  ProfilePhase phase = ProfilePhase::kDecode;
  std::int64_t batch = 1;
  std::int64_t length = 0;        // decode: context C; prefill: prompt length L
  double layers_ms = 0;           // median forward without logits (all layers)
  double with_head_ms = 0;        // median forward with logits
  double layer_ms = 0;            // layers_ms / config.layers
  std::string key() const;        // "B8_C512" or "B1_T128"
};

struct LmHeadPoint {
  std::int64_t batch = 1;
  double ms = 0;
  bool clamped = false;
};

struct ProfileResult {
  DeviceDescription device;
  LlamaConfig config;
  ProfileGrid grid;
  std::int32_t block_size = 0;
  std::vector<ProfilePoint> points;  // decode points, then prefill points, in grid order
  std::vector<LmHeadPoint> lm_head;  // one per decode batch size
};

// Non-empty lists of positive values, repeats >= 1, warmup >= 0.
Status validate_grid(const ProfileGrid& grid);

// The KV blocks the largest point needs and their bytes; InvalidArgument naming the first point past
// the model's context_length, or past `kv_budget_bytes` (> 0; 0: no budget).
struct KvPlan {
  std::int64_t blocks = 0;
  double bytes = 0;
};
Result<KvPlan> plan_kv(const ProfileGrid& grid, const LlamaConfig& config, std::int32_t block_size,
                       double bytes_per_block, double kv_budget_bytes);

class Profiler {
 public:
  using Progress = std::function<void(const ProfilePoint&)>;
  explicit Profiler(ProfileBackend& backend) : backend_(backend) {}

  // Measures the device (describe_device(quick_device)), then every grid point.
  Result<ProfileResult> run(const ProfileGrid& grid, bool quick_device, const Progress& progress = {});

 private:
  Result<ProfilePoint> measure(ProfilePhase phase, std::int64_t batch, std::int64_t length, const ProfileGrid& grid);

  ProfileBackend& backend_;
};

// Profiles (config, weights) on the CPU backend: plans the KV cache from the grid, creates a
// CpuProfileBackend of `threads` (0: all) and runs the Profiler.
struct CpuProfileOptions {
  int threads = 0;
  std::int32_t block_size = 16;
  double kv_budget_bytes = 0;  // 0: no budget
  bool quick_device = false;
};
Result<ProfileResult> profile_cpu(const LlamaConfig& config, const LlamaWeights& weights, const ProfileGrid& grid,
                                  const CpuProfileOptions& options, const Profiler::Progress& progress = {});

}  // namespace chatscale::engine
