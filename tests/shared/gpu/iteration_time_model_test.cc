#include "gpu/iteration_time_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gpu/gpu_profile.h"
#include "gpu/roofline.h"

namespace chatscale {
namespace {

const std::string kProfile = std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/calibration/h100-llama3-8b.json";

ModelShape llama3_8b() { return {"llama3-8b", 4096, 32, 8, 128, 14336, 32, 128256, 2}; }
ModelShape llama2_70b() { return {"llama2-70b", 8192, 64, 8, 128, 28672, 80, 32000, 2}; }

// The model fitted to the committed profile, once for the whole file.
const IterationTimeModel& fitted() {
  static const IterationTimeModel model = [] {
    auto p = load_gpu_profile(kProfile);
    EXPECT_TRUE(p.is_ok()) << p.status().message();
    auto m = IterationTimeModel::calibrate(p.value(), "llama3-8b");
    EXPECT_TRUE(m.is_ok()) << m.status().message();
    return m.value();
  }();
  return model;
}

TEST(IterationTimeModel, CalibrationIsDeterministicAndPhysical) {
  auto p = load_gpu_profile(kProfile);
  ASSERT_TRUE(p.is_ok());
  auto again = IterationTimeModel::calibrate(*p, "llama3-8b");
  ASSERT_TRUE(again.is_ok());
  const FitParams& a = fitted().params();
  const FitParams& b = again->params();
  EXPECT_EQ(a.memory_efficiency, b.memory_efficiency);
  EXPECT_EQ(a.eager_launch_s, b.eager_launch_s);
  // Plausible physics: streaming near the copy bandwidth, GEMMs near the measured large-GEMM rate,
  // a few microseconds per kernel in a graph and tens of microseconds per eager launch.
  EXPECT_GT(a.memory_efficiency, 0.7);
  EXPECT_GT(a.gemm_efficiency, 0.6);
  EXPECT_GT(a.attention_memory_efficiency, 0.5);
  EXPECT_GT(a.kernel_overhead_s, 1e-6);
  EXPECT_LT(a.kernel_overhead_s, 20e-6);
  EXPECT_GT(a.eager_launch_s, 10e-6);
  EXPECT_LT(a.eager_launch_s, 100e-6);
  const FitReport& r = fitted().fit_report();
  EXPECT_EQ(r.points.size(), 33u);
  EXPECT_LT(r.median_abs_error_pct, 5);
  EXPECT_LT(r.rms_log_error, 0.1);
}

TEST(IterationTimeModel, CalibrationErrors) {
  auto p = load_gpu_profile(kProfile);
  ASSERT_TRUE(p.is_ok());
  auto missing = IterationTimeModel::calibrate(*p, "llama9");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("(the profile has: llama3-8b)"), std::string::npos);
  std::vector<CalibrationPoint> few(p->models[0].points.begin(), p->models[0].points.begin() + 5);
  auto underdetermined = IterationTimeModel::calibrate_points(p->gpu, llama3_8b(), few);
  ASSERT_FALSE(underdetermined.is_ok());
  EXPECT_NE(underdetermined.status().message().find("need more than 7 measured points"), std::string::npos);
}

// Fit on a subset of the profile and predict the points it left out: the model must generalise.
double held_out_median_error(const std::function<bool(const CalibrationPoint&)>& held_out) {
  auto p = load_gpu_profile(kProfile);
  EXPECT_TRUE(p.is_ok());
  std::vector<CalibrationPoint> train, test;
  for (const CalibrationPoint& c : p->models[0].points) (held_out(c) ? test : train).push_back(c);
  auto m = IterationTimeModel::calibrate_points(p->gpu, llama3_8b(), train);
  EXPECT_TRUE(m.is_ok());
  std::vector<FitPoint> errors;
  for (const CalibrationPoint& c : test) errors.push_back({c.label(), c.measured_ms, m->point_ms(llama3_8b(), c)});
  double median = 0, max = 0;
  summarise_errors(errors, median, max);
  return median;
}

TEST(IterationTimeModel, ExtrapolatesToLongerContextsAndLargerBatches) {
  // Fitted without any 8192-token KV cache, it predicts those decode steps.
  EXPECT_LT(held_out_median_error([](const CalibrationPoint& c) {
              return c.kind == CalibrationKind::kDecodeLayer && c.length == 8192;
            }),
            10.0);
  // Fitted without batches above 32, it predicts 64 to 256.
  EXPECT_LT(held_out_median_error([](const CalibrationPoint& c) {
              return c.kind != CalibrationKind::kPrefillLayer && c.batch > 32;
            }),
            10.0);
}

void expect_decode_monotone(const IterationTimeModel& m, const ModelShape& s, int tp) {
  for (std::int64_t context : {1, 64, 512, 4096, 32768}) {
    double previous = 0;
    for (std::int64_t batch = 1; batch <= 1024; batch *= 2) {
      const double t = m.predict_ms(s, IterationShape::decode(batch, context), tp);
      EXPECT_GE(t, previous) << s.name << " tp " << tp << " batch " << batch << " context " << context;
      EXPECT_GE(t, m.predict_ms(s, IterationShape::decode(batch, context / 2), tp));
      previous = t;
    }
  }
}

void expect_prefill_monotone(const IterationTimeModel& m, const ModelShape& s, int tp) {
  double previous = 0;
  for (std::int64_t tokens = 1; tokens <= 16384; tokens = tokens * 3 / 2 + 1) {
    const double t = m.predict_ms(s, IterationShape::prefill(1, tokens), tp);
    EXPECT_GE(t, previous) << s.name << " tp " << tp << " tokens " << tokens;
    EXPECT_GE(m.layer_ms(s, IterationShape::prefill(2, tokens), tp),
              m.layer_ms(s, IterationShape::prefill(1, tokens), tp));
    previous = t;
  }
}

TEST(IterationTimeModel, MoreWorkIsNeverFaster) {
  for (const ModelShape& s : {llama3_8b(), llama2_70b()}) {
    for (int tp : {1, 2, 8}) {
      expect_decode_monotone(fitted(), s, tp);
      expect_prefill_monotone(fitted(), s, tp);
    }
  }
}

TEST(IterationTimeModel, MixedIterationsCostAtLeastTheirParts) {
  const IterationTimeModel& m = fitted();
  const ModelShape s = llama3_8b();
  IterationShape mixed = IterationShape::decode(64, 2048);
  const double decode_only = m.predict_ms(s, mixed, 1);
  mixed.prefills.push_back({512, 0});
  const double with_prefill = m.predict_ms(s, mixed, 1);
  EXPECT_GT(with_prefill, decode_only);
  EXPECT_GE(with_prefill, m.predict_ms(s, IterationShape::prefill(1, 512), 1));
  // A later chunk of a chunked prefill attends to the earlier ones: it costs more than the first.
  IterationShape later;
  later.prefills.push_back({512, 4096});
  EXPECT_GT(m.predict_ms(s, later, 1), m.predict_ms(s, IterationShape::prefill(1, 512), 1));
  // Longer contexts of some decode sequences make the step longer.
  IterationShape longer = IterationShape::decode(64, 2048);
  longer.decode_contexts[0] = 100000;
  EXPECT_GT(m.predict_ms(s, longer, 1), decode_only);
  EXPECT_EQ(m.predict_ms(s, IterationShape{}, 1), 0);
}

TEST(IterationTimeModel, LaunchModes) {
  EXPECT_EQ(IterationTimeModel::launch_mode(IterationShape::decode(8, 100)), LaunchMode::kCudaGraph);
  EXPECT_EQ(IterationTimeModel::launch_mode(IterationShape::prefill(1, 100)), LaunchMode::kEager);
  const IterationTimeModel& m = fitted();
  const IterationShape it = IterationShape::decode(1, 512);
  // Eager pays a host launch per kernel, which at batch 1 exceeds the GPU work.
  EXPECT_GT(m.predict_ms(llama3_8b(), it, 1, LaunchMode::kEager), 1.5 * m.predict_ms(llama3_8b(), it, 1));
}

TEST(IterationTimeModel, WholeModelIsLayersPlusLmHead) {
  const IterationTimeModel& m = fitted();
  const ModelShape s = llama3_8b();
  const IterationShape it = IterationShape::decode(16, 2048);
  const double layer = m.layer_ms(s, it, 1);
  const double whole = m.predict_ms(s, it, 1);
  EXPECT_GT(whole, 32 * layer);
  EXPECT_LT(whole, 32 * layer + 0.6);  // the LM head and final norm, under 0.6 ms at batch 16
  // Batch-1 decode of the 8B model is about the weights (16 GB) over ~3 TB/s plus kernel overheads.
  EXPECT_GT(whole, 16.06e9 / 3.008e12 * 1e3);
  EXPECT_LT(whole, 10.0);
}

TEST(IterationTimeModel, TensorParallelScaling) {
  const IterationTimeModel& m = fitted();
  const ModelShape s = llama2_70b();
  const IterationShape prefill = IterationShape::prefill(1, 4096);
  const double tp1 = m.predict_ms(s, prefill, 1), tp2 = m.predict_ms(s, prefill, 2);
  const double tp4 = m.predict_ms(s, prefill, 4), tp8 = m.predict_ms(s, prefill, 8);
  // Compute-bound prefill nearly halves per doubling, but never more than halves: all-reduces cost.
  EXPECT_LT(tp2, 0.6 * tp1);
  EXPECT_GT(tp2, 0.5 * tp1);
  EXPECT_LT(tp4, tp2);
  EXPECT_LT(tp8, tp4);
  EXPECT_GT(tp8, tp1 / 8);
  // With free communication the split is close to ideal; NVLink costs are what separate the two.
  GpuSpecs free_links = m.gpu();
  free_links.nvlink_bytes_per_s = 1e18;
  free_links.allreduce_latency_s = 0;
  const IterationTimeModel ideal(free_links, m.params());
  EXPECT_LT(ideal.predict_ms(s, prefill, 8), tp8);
  EXPECT_NEAR(ideal.predict_ms(s, prefill, 2) / ideal.predict_ms(s, prefill, 1), 0.5, 0.03);
  // Decode at batch 1 stays above the per-GPU weight-streaming floor.
  const double floor_ms = s.parameters() * 2 / 8 / m.gpu().hbm_bytes_per_s * 1e3;
  EXPECT_GT(m.predict_ms(s, IterationShape::decode(1, 2048), 8), floor_ms);
  // Per-layer all-reduce: two of tokens x hidden x 2 bytes per layer over 450 GB/s.
  const Roofline r(m.gpu(), m.params(), 2);
  EXPECT_NEAR(r.allreduce_s(4096.0 * 8192 * 2, 8), 10e-6 + 2.0 * 7 / 8 * 4096 * 8192 * 2 / 450e9, 1e-12);
  EXPECT_EQ(r.allreduce_s(1e6, 1), 0);
}

TEST(IterationTimeModel, LowerPrecisionIsFaster) {
  const IterationTimeModel& m = fitted();
  ModelShape fp8 = llama3_8b();
  fp8.dtype_bytes = 1;
  for (const IterationShape& it : {IterationShape::decode(1, 512), IterationShape::decode(256, 4096),
                                   IterationShape::prefill(1, 8192)}) {
    const double bf16_ms = m.predict_ms(llama3_8b(), it, 1);
    const double fp8_ms = m.predict_ms(fp8, it, 1);
    EXPECT_LT(fp8_ms, bf16_ms);
    EXPECT_GT(fp8_ms, bf16_ms / 2.5);
  }
}

TEST(Roofline, SmoothMaximumAndPipeline) {
  FitParams p;
  p.roofline_sharpness = 50;
  const Roofline hard(GpuSpecs{}, p, 2);
  EXPECT_NEAR(hard.combine(3, 1), 3, 1e-9);
  EXPECT_EQ(hard.combine(0, 0), 0);
  p.roofline_sharpness = 1;
  EXPECT_NEAR(Roofline(GpuSpecs{}, p, 2).combine(3, 1), 4, 1e-12);
  // A host slower than the GPU sets the pace; a faster one hides behind it.
  KernelPipeline slow_host(10);
  slow_host.run_all({{"a", 1}, {"b", 1}, {"c", 1}});
  EXPECT_DOUBLE_EQ(slow_host.elapsed_s(), 31);
  KernelPipeline fast_host(1);
  fast_host.run_all({{"a", 10}, {"b", 10}, {"c", 10}});
  EXPECT_DOUBLE_EQ(fast_host.elapsed_s(), 31);
  KernelPipeline graph(0);
  graph.run_all({{"a", 10}, {"b", 10, 3}});
  EXPECT_DOUBLE_EQ(graph.elapsed_s(), 20);
}

TEST(Roofline, LayerKernelsFollowTheShape) {
  const Roofline r(GpuSpecs{}, FitParams{}, 2);
  const auto tp1 = layer_kernels(r, llama3_8b(), IterationShape::decode(4, 512), 1);
  const auto tp2 = layer_kernels(r, llama3_8b(), IterationShape::decode(4, 512), 2);
  EXPECT_EQ(tp1.size(), 11u);  // decode attention is one step of three launches
  int launches = 0;
  for (const KernelTime& k : tp1) launches += k.launches;
  EXPECT_EQ(launches, 13);
  EXPECT_EQ(tp2.size(), 13u);  // two all-reduces
  int allreduces = 0;
  for (const KernelTime& k : tp2) allreduces += k.op.find("allreduce") != std::string_view::npos;
  EXPECT_EQ(allreduces, 2);
  const auto mixed_it = [] {
    IterationShape it = IterationShape::decode(4, 512);
    it.prefills.push_back({128, 0});
    return it;
  }();
  EXPECT_EQ(layer_kernels(r, llama3_8b(), mixed_it, 1).size(), 12u);  // both attention kinds
}

}  // namespace
}  // namespace chatscale
