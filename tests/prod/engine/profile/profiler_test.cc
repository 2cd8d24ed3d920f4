// The profiler: what it asks of a backend (a recording fake: batch shapes, block tables, KV fill,
// synchronize after every forward), its grid and KV checks, and a tiny random model profiled on the CPU
// backend into a chatscale-gpu-profile/1 document that the shared loader parses with the right points
// and the simulator's iteration-time fit accepts. No timed assertions: structure, counts, positivity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "gpu/gpu_profile.h"
#include "gpu/iteration_time_model.h"
#include "prod/engine/profile/profile_json.h"
#include "prod/engine/profile/profiler.h"
#include "tests/prod/engine/cpu/random_model.h"

namespace chatscale::engine {
namespace {

// Records every call; forward() checks nothing beyond what the test inspects afterwards.
class FakeBackend final : public ProfileBackend {
 public:
  explicit FakeBackend(LlamaConfig c, std::int64_t blocks) : config_(c), blocks_(blocks) {}
  const LlamaConfig& config() const override { return config_; }
  std::int32_t block_size() const override { return 4; }
  std::int64_t num_blocks() const override { return blocks_; }
  Status forward(const ForwardBatch& batch, std::span<float> logits) override {
    if (pending_) return failed_precondition("forward before synchronize");
    pending_ = true;
    Seen s;
    for (const SeqSlice& slice : batch.seqs) {
      s.tokens.push_back(static_cast<std::int64_t>(slice.tokens.size()));
      s.starts.push_back(slice.start_pos);
      s.tables.emplace_back(slice.block_table.begin(), slice.block_table.end());
      s.logits += slice.want_logits ? 1 : 0;
      for (std::int32_t t : slice.tokens) s.tokens_in_vocab &= t >= 0 && t < config_.vocab;
    }
    s.logits_room = static_cast<std::int64_t>(logits.size()) >= s.logits * config_.vocab;
    seen.push_back(s);
    return Status::ok();
  }
  Status synchronize() override {
    pending_ = false;
    ++syncs;
    return Status::ok();
  }
  Status fill_kv_random(std::span<const std::int32_t> blocks, std::uint64_t) override {
    filled.assign(blocks.begin(), blocks.end());
    return Status::ok();
  }
  Result<DeviceDescription> describe_device(bool quick) override {
    DeviceDescription d;
    d.name = "Fake \"device\" \\ 1";
    d.kind = "fake";
    d.copy_bytes_per_s = 1e11;
    d.peak_flops = 1e12;
    d.kv_dtype = "f32";
    quick_seen = quick;
    return d;
  }

  struct Seen {
    std::vector<std::int64_t> tokens, starts;
    std::vector<std::vector<std::int32_t>> tables;
    std::int64_t logits = 0;
    bool logits_room = false, tokens_in_vocab = true;
  };
  std::vector<Seen> seen;
  std::vector<std::int32_t> filled;
  int syncs = 0;
  bool quick_seen = false;

 private:
  LlamaConfig config_;
  std::int64_t blocks_;
  bool pending_ = false;
};

ProfileGrid small_grid() {
  ProfileGrid g;
  g.batches = {1, 3};
  g.contexts = {7, 20};
  g.prefill_lengths = {5, 12};
  g.repeats = 3;
  g.warmup = 1;
  return g;
}

TEST(Profiler, AsksTheBackendForTheGridsBatches) {
  const LlamaConfig c = testing::tiny_config();
  FakeBackend fake(c, 64);
  const ProfileGrid g = small_grid();
  Profiler profiler(fake);
  std::vector<std::string> progress;
  auto r = profiler.run(g, true, [&](const ProfilePoint& p) { progress.push_back(p.key()); });
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(fake.quick_seen);
  // The largest point: decode B3_C20 needs 3 x ceil(21 / 4) = 18 blocks, filled once, ids 0..17.
  ASSERT_EQ(fake.filled.size(), 18u);
  for (std::size_t i = 0; i < fake.filled.size(); ++i) EXPECT_EQ(fake.filled[i], static_cast<std::int32_t>(i));
  // Per point: warm-up 1 + repeats 3 x 2 forwards; every forward followed by synchronize.
  const std::size_t per_point = 1 + 3 * 2, points = 4 + 2;
  ASSERT_EQ(fake.seen.size(), points * per_point);
  EXPECT_EQ(fake.syncs, static_cast<int>(points * per_point));
  EXPECT_EQ(progress, (std::vector<std::string>{"B1_C7", "B3_C7", "B1_C20", "B3_C20", "B1_T5", "B1_T12"}));
  const struct { std::int64_t batch, tokens, start; } expect[] = {{1, 1, 7}, {3, 1, 7}, {1, 1, 20}, {3, 1, 20}, {1, 5, 0}, {1, 12, 0}};
  for (std::size_t p = 0; p < points; ++p) {
    int with_logits = 0;
    for (std::size_t k = 0; k < per_point; ++k) {
      const FakeBackend::Seen& s = fake.seen[p * per_point + k];
      ASSERT_EQ(static_cast<std::int64_t>(s.tokens.size()), expect[p].batch) << p;
      std::set<std::int32_t> blocks;
      for (std::size_t q = 0; q < s.tokens.size(); ++q) {
        EXPECT_EQ(s.tokens[q], expect[p].tokens);
        EXPECT_EQ(s.starts[q], expect[p].start);
        // The table covers every position up to the last one written.
        EXPECT_EQ(static_cast<std::int64_t>(s.tables[q].size()), (expect[p].start + expect[p].tokens + 3) / 4);
        for (std::int32_t b : s.tables[q]) EXPECT_TRUE(blocks.insert(b).second) << "block shared: " << b;
      }
      EXPECT_TRUE(*std::max_element(blocks.begin(), blocks.end()) < 18);
      EXPECT_TRUE(s.logits == 0 || s.logits == expect[p].batch);
      EXPECT_TRUE(s.logits_room);
      EXPECT_TRUE(s.tokens_in_vocab);
      with_logits += s.logits > 0 ? 1 : 0;
    }
    EXPECT_EQ(with_logits, 3) << "one timed forward with logits per repeat";
  }
  ASSERT_EQ(r->points.size(), points);
  ASSERT_EQ(r->lm_head.size(), 2u);
  for (const ProfilePoint& p : r->points) {
    EXPECT_GT(p.layers_ms, 0);
    EXPECT_DOUBLE_EQ(p.layer_ms, p.layers_ms / static_cast<double>(c.layers));
  }
  for (const LmHeadPoint& h : r->lm_head) EXPECT_GT(h.ms, 0);
}

TEST(Profiler, RejectsGridsItCannotRun) {
  const LlamaConfig c = testing::tiny_config();  // context 128
  ProfileGrid g = small_grid();
  EXPECT_TRUE(plan_kv(g, c, 4, 1000, 0).is_ok());
  g.contexts = {7, 127};  // 128 positions: the last one fits
  EXPECT_TRUE(plan_kv(g, c, 4, 1000, 0).is_ok());
  g.contexts = {7, 128};
  auto r = plan_kv(g, c, 4, 1000, 0);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("decode point B1_C128: needs 129 positions per sequence, past the model's "
                                      "context length 128"), std::string::npos) << r.status().message();
  g = small_grid();
  g.prefill_lengths = {129};
  r = plan_kv(g, c, 4, 1000, 0);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("prefill point B1_T129"), std::string::npos) << r.status().message();
  // KV budget: B3_C20 needs 18 blocks of 1 GiB.
  g = small_grid();
  r = plan_kv(g, c, 4, 1073741824.0, 17.5 * 1073741824.0);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("decode point B3_C20: needs 18.000 GiB of KV cache (18 blocks of 4 tokens), "
                                      "over the budget of 17.500 GiB"), std::string::npos) << r.status().message();
  auto ok = plan_kv(g, c, 4, 1073741824.0, 18.0 * 1073741824.0);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->blocks, 18);
  g.batches.clear();
  EXPECT_NE(validate_grid(g).message().find("--batches: the list is empty"), std::string::npos);
  g = small_grid();
  g.contexts = {7, 0};
  EXPECT_NE(validate_grid(g).message().find("--contexts: 0 is not a positive integer"), std::string::npos);
  g = small_grid();
  g.prefill_lengths = {5, 5};
  EXPECT_NE(validate_grid(g).message().find("--prefill-lengths: 5 is listed twice"), std::string::npos);
  g = small_grid();
  g.prefill_batches = {2, 4};
  EXPECT_NE(validate_grid(g).message().find("--prefill-batches: must include 1"), std::string::npos);
  g = small_grid();
  g.repeats = 0;
  EXPECT_FALSE(validate_grid(g).is_ok());
  // A backend with too few blocks for the grid.
  FakeBackend fake(c, 17);
  auto run = Profiler(fake).run(small_grid(), true);
  ASSERT_FALSE(run.is_ok());
  EXPECT_NE(run.status().message().find("needs 18 KV blocks, the backend has 17"), std::string::npos);
  EXPECT_TRUE(fake.seen.empty());
}

TEST(Profiler, JsonOfAFakeRunLoadsWithEscapedNames) {
  FakeBackend fake(testing::tiny_config(), 64);
  ProfileGrid g = small_grid();
  g.prefill_batches = {1, 2};  // B2 prefill points go to the extra table only
  auto r = Profiler(fake).run(g, false);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::string json = profile_json(*r, "tiny \"q\"", 4, "fake\nbackend");
  auto p = parse_gpu_profile(json, "fake.json");
  ASSERT_TRUE(p.is_ok()) << p.status().message() << "\n" << json;
  EXPECT_EQ(p->gpu.name, "Fake \"device\" \\ 1");
  EXPECT_EQ(p->measured_with, "fake\nbackend");
  EXPECT_DOUBLE_EQ(p->gpu.hbm_bytes_per_s, 1e11);
  EXPECT_DOUBLE_EQ(p->gpu.dense_bf16_flops, 1e12);
  ASSERT_EQ(p->models.size(), 1u);
  EXPECT_EQ(p->models[0].name, "tiny \"q\"");
  EXPECT_EQ(p->models[0].shape.dtype_bytes, 4);
  EXPECT_EQ(p->models[0].points.size(), 2u + 4u + 2u);
  EXPECT_NE(json.find("\"B2_T12\""), std::string::npos);
}

// A tiny random model on the CPU backend, 2 x 2 decode grid and 2 prefill lengths: the file loads with
// 2 prefill + 4 decode + 2 LM-head points, matching the model's shape, and the fit accepts it.
TEST(Profiler, TinyCpuProfileLoadsAndCalibrates) {
  const testing::RandomModel m = testing::make_random_model(testing::tiny_config(), DType::kF16, 5);
  ProfileGrid g;
  g.batches = {1, 4};
  g.contexts = {16, 96};
  g.prefill_lengths = {16, 64};
  g.repeats = 2;
  g.warmup = 1;
  CpuProfileOptions o;
  o.threads = 2;
  o.block_size = 16;
  o.quick_device = true;
  auto r = profile_cpu(m.config, m.weights, g, o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->device.kind, "cpu");
  EXPECT_EQ(r->device.threads, 2);
  EXPECT_GT(r->device.copy_bytes_per_s, 0);
  EXPECT_GT(r->device.peak_flops, 0);
  EXPECT_NE(r->device.name.find("(2 threads)"), std::string::npos) << r->device.name;
  const std::string json = profile_json(*r, "tiny", weight_dtype_bytes(m.weights), "test");
  auto p = parse_gpu_profile(json, "tiny.json");
  ASSERT_TRUE(p.is_ok()) << p.status().message() << "\n" << json;
  ASSERT_EQ(p->models.size(), 1u);
  const ProfiledModel& pm = p->models[0];
  EXPECT_EQ(pm.shape.hidden, 64);
  EXPECT_EQ(pm.shape.heads, 4);
  EXPECT_EQ(pm.shape.kv_heads, 2);
  EXPECT_EQ(pm.shape.head_dim, 16);
  EXPECT_EQ(pm.shape.ffn, 128);
  EXPECT_EQ(pm.shape.layers, 2);
  EXPECT_EQ(pm.shape.vocab, 256);
  EXPECT_EQ(pm.shape.dtype_bytes, 2);
  std::vector<std::string> labels;
  for (const CalibrationPoint& q : pm.points) {
    labels.push_back(q.label());
    EXPECT_TRUE(q.measured_ms > 0 && std::isfinite(q.measured_ms)) << q.label();
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"prefill_layer_ms[16]", "prefill_layer_ms[64]",
                                              "decode_layer_ms[B1_C16]", "decode_layer_ms[B4_C16]",
                                              "decode_layer_ms[B1_C96]", "decode_layer_ms[B4_C96]",
                                              "lm_head_ms[1]", "lm_head_ms[4]"}));
  auto fit = IterationTimeModel::calibrate(*p, "tiny");
  ASSERT_TRUE(fit.is_ok()) << fit.status().message();
  EXPECT_EQ(fit->fit_report().points.size(), 8u);
  const double ms = fit->predict_ms(pm.shape, IterationShape::decode(4, 96), 1);
  EXPECT_TRUE(ms > 0 && std::isfinite(ms)) << ms;
}

// fill_kv_random really writes the cache: the logits of a decode over a filled context depend on the seed.
TEST(Profiler, CpuFillWritesTheCache) {
  const testing::RandomModel m = testing::make_random_model(testing::tiny_config(), DType::kF32, 2);
  auto backend = CpuProfileBackend::create(m.config, m.weights, 4, 16, 1);
  ASSERT_TRUE(backend.is_ok()) << backend.status().message();
  const std::vector<std::int32_t> blocks = {0, 1, 2}, token = {7};
  ForwardBatch batch;
  SeqSlice s;
  s.tokens = token;
  s.start_pos = 40;
  s.block_table = blocks;
  batch.seqs.push_back(s);
  std::vector<float> a(256), b(256), c(256);
  ASSERT_TRUE((*backend)->fill_kv_random(blocks, 1).is_ok());
  ASSERT_TRUE((*backend)->forward(batch, a).is_ok());
  ASSERT_TRUE((*backend)->fill_kv_random(blocks, 2).is_ok());
  ASSERT_TRUE((*backend)->forward(batch, b).is_ok());
  ASSERT_TRUE((*backend)->fill_kv_random(blocks, 1).is_ok());
  ASSERT_TRUE((*backend)->forward(batch, c).is_ok());
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  const std::vector<std::int32_t> bad = {4};
  EXPECT_FALSE((*backend)->fill_kv_random(bad, 1).is_ok());
}

}  // namespace
}  // namespace chatscale::engine
