// Validation of the GPU iteration-time model against measurements it was not fitted on: leave-one-out
// over the calibration profile, and published figures of other engines. reports/validation.md quotes
// what this test prints: run `build/tests/gpu_validation_test` (or `ctest -R GpuValidation -V`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "gpu/gpu_profile.h"
#include "gpu/iteration_time_model.h"
#include "gpu/roofline.h"

namespace chatscale {
namespace {

const std::string kProfile = std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/calibration/h100-llama3-8b.json";
const std::string kData = std::string(CHATSCALE_SOURCE_DIR) + "/tests/shared/gpu/data/";

class GpuValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    auto profile = load_gpu_profile(kProfile);
    ASSERT_TRUE(profile.is_ok()) << profile.status().message();
    profile_ = *profile;
    auto model = IterationTimeModel::calibrate(profile_, "llama3-8b");
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    model_.emplace(*model);
  }
  ModelShape shape(const std::string& file) {
    auto s = load_model_shape_file(kData + file);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.value_or(ModelShape{});
  }
  GpuProfile profile_;
  std::optional<IterationTimeModel> model_;
};

TEST_F(GpuValidation, FitOnAllPoints) {
  const FitReport& r = model_->fit_report();
  const FitParams& p = r.params;
  std::printf("fit: memory_efficiency %.3f attention_memory_efficiency %.3f gemm_efficiency %.3f "
              "attention_compute_efficiency %.3f roofline_sharpness %.2f kernel_overhead %.2f us "
              "eager_launch %.2f us (%d evaluations)\n",
              p.memory_efficiency, p.attention_memory_efficiency, p.gemm_efficiency, p.attention_compute_efficiency,
              p.roofline_sharpness, p.kernel_overhead_s * 1e6, p.eager_launch_s * 1e6, r.evaluations);
  std::cout << format_fit_points(r.points);
  std::printf("in-sample: median |error| %.2f%%, max %.2f%%, rms log error %.4f\n", r.median_abs_error_pct,
              r.max_abs_error_pct, r.rms_log_error);
  EXPECT_LT(r.median_abs_error_pct, 5.0);
}

TEST_F(GpuValidation, LeaveOneOut) {
  auto loo = leave_one_out(profile_, "llama3-8b");
  ASSERT_TRUE(loo.is_ok()) << loo.status().message();
  std::cout << "leave-one-out (each point predicted by a fit without it):\n" << format_fit_points(loo->points);
  std::printf("leave-one-out: %zu points, median |error| %.2f%%, max %.2f%%\n", loo->points.size(),
              loo->median_abs_error_pct, loo->max_abs_error_pct);
  for (const char* kind : {"prefill", "decode", "lm_head"}) {
    std::vector<FitPoint> group;
    for (const FitPoint& p : loo->points) {
      if (p.label.rfind(kind, 0) == 0) group.push_back(p);
    }
    double median = 0, max = 0;
    summarise_errors(group, median, max);
    std::printf("leave-one-out %s: %zu points, median |error| %.2f%%, max %.2f%%\n", kind, group.size(), median, max);
  }
  EXPECT_EQ(loo->points.size(), 33u);
  EXPECT_LE(loo->median_abs_error_pct, 10.0);  // the goal
  EXPECT_LE(loo->max_abs_error_pct, 50.0);     // no point is wildly off
}

// Where one layer's time goes, kernel by kernel (GPU time; eager host launches come on top).
void print_breakdown(const char* what, const IterationTimeModel& m, const ModelShape& s, const IterationShape& it,
                     int tp) {
  const Roofline r(m.gpu(), m.params(), s.dtype_bytes);
  std::printf("%s, one layer:", what);
  double total = 0;
  for (const KernelTime& k : layer_kernels(r, s, it, tp)) {
    std::printf(" %.*s %.3f", static_cast<int>(k.op.size()), k.op.data(), k.seconds * 1e3);
    total += k.seconds;
  }
  std::printf(" = %.3f ms x %lld layers\n", total * 1e3, static_cast<long long>(s.layers));
}

// Splitwise (Patel et al., ISCA 2024): Llama2-70B on a DGX-H100 at TP8, prefill of 2048 tokens 136.6 ms,
// decode 31.2 ms per token at batch 1.
TEST_F(GpuValidation, SplitwiseLlama2_70bTp8) {
  const ModelShape llama70 = shape("llama2-70b.yaml");
  const double prefill = model_->predict_ms(llama70, IterationShape::prefill(1, 2048), 8);
  const IterationShape decode = IterationShape::decode(1, 2048);
  const double decode_graph = model_->predict_ms(llama70, decode, 8, LaunchMode::kCudaGraph);
  const double decode_eager = model_->predict_ms(llama70, decode, 8, LaunchMode::kEager);
  std::printf("splitwise llama2-70b tp8: prefill 2048 tokens %.1f ms (published 136.6, ratio %.2f)\n", prefill,
              prefill / 136.6);
  print_breakdown("splitwise llama2-70b tp8 prefill 2048", *model_, llama70, IterationShape::prefill(1, 2048), 8);
  print_breakdown("splitwise llama2-70b tp8 decode b1 c2048", *model_, llama70, decode, 8);
  std::printf("splitwise llama2-70b tp8: decode batch 1 at context 2048: CUDA graph %.1f ms (ratio %.2f), eager "
              "%.1f ms (ratio %.2f); published 31.2\n", decode_graph, decode_graph / 31.2, decode_eager,
              decode_eager / 31.2);
  // Sensitivity: NCCL rarely reaches the link rate; at half of it the two all-reduces per layer double.
  GpuSpecs slow_links = model_->gpu();
  slow_links.nvlink_bytes_per_s /= 2;
  const IterationTimeModel half_nvlink(slow_links, model_->params());
  std::printf("splitwise llama2-70b tp8: prefill 2048 tokens with NVLink at 225 GB/s: %.1f ms\n",
              half_nvlink.predict_ms(llama70, IterationShape::prefill(1, 2048), 8));
  // Weight streaming alone bounds decode from below: 1/8 of 138 GB at the measured 3.0 TB/s.
  const double weights_ms = llama70.parameters() * 2 / 8 / profile_.gpu.hbm_bytes_per_s * 1e3;
  std::printf("splitwise llama2-70b tp8: weight-streaming floor %.1f ms per token (%.1f GB of bf16 weights)\n",
              weights_ms, llama70.parameters() * 2 / 1e9);
  EXPECT_GT(decode_graph, weights_ms);
  // A sanity band only: another engine, so a gap is expected; a factor of three would mean a broken model.
  EXPECT_GT(prefill, 136.6 / 3);
  EXPECT_LT(prefill, 136.6 * 3);
  EXPECT_GT(decode_eager, 31.2 / 3);
  EXPECT_LT(decode_graph, 31.2 * 3);
}

struct Throughput {
  std::int64_t batch = 0;
  double tokens_per_s = 0;
  double prefill_s = 0, decode_s = 0;
};

// All requests arrive at once with the same lengths (as trtllm-bench runs them), so they move in waves
// of `batch`: prefill in iterations of at most `max_tokens` prompt tokens, then `out` decode steps.
Throughput wave_throughput(const IterationTimeModel& m, const ModelShape& s, std::int64_t batch, std::int64_t in,
                           std::int64_t out, std::int64_t max_tokens, LaunchMode mode) {
  Throughput t;
  t.batch = batch;
  const std::int64_t per_iteration = std::max<std::int64_t>(1, max_tokens / in);
  for (std::int64_t done = 0; done < batch; done += per_iteration) {
    const std::int64_t n = std::min(per_iteration, batch - done);
    t.prefill_s += m.predict_ms(s, IterationShape::prefill(n, in), 1, mode) / 1e3;
  }
  for (std::int64_t step = 1; step < out; ++step) {  // the prefill produced the first token
    t.decode_s += m.predict_ms(s, IterationShape::decode(batch, in + step), 1, mode) / 1e3;
  }
  t.tokens_per_s = static_cast<double>(batch * out) / (t.prefill_s + t.decode_s);
  return t;
}

void print_throughput(const char* what, const ModelShape& s, std::int64_t in, std::int64_t out, const Throughput& t,
                      double published) {
  std::printf("trtllm llama3.1-8b %s %lld/%lld: dtype_bytes %lld batch %lld: %.0f output tok/s (prefill %.2f s, "
              "decode %.2f s per wave; published %.0f, ratio %.2f)\n",
              what, static_cast<long long>(in), static_cast<long long>(out), static_cast<long long>(s.dtype_bytes),
              static_cast<long long>(t.batch), t.tokens_per_s, t.prefill_s, t.decode_s, published,
              t.tokens_per_s / published);
}

// TensorRT-LLM's published throughput: Llama-3.1-8B FP8 on one H100, 28,312 output tok/s for 128/128 and
// 9,305 for 2048/2048. Batch: as many sequences as the KV cache holds (90% of 80 GB less the weights),
// at most 2048; prefill iterations of at most 8192 tokens (TensorRT-LLM's default max_num_tokens).
TEST_F(GpuValidation, TensorRtLlmLlama31_8bThroughput) {
  ModelShape bf16 = shape("llama3-8b.yaml");
  ModelShape fp8 = bf16;
  fp8.dtype_bytes = 1;
  struct Case {
    std::int64_t in, out;
    double published;
  };
  for (const Case& c : {Case{128, 128, 28312}, Case{2048, 2048, 9305}}) {
    for (const ModelShape* s : {&bf16, &fp8}) {
      const std::int64_t fits = kv_capacity_tokens(*s, profile_.gpu, 1) / (c.in + c.out);
      const std::int64_t batch = std::min<std::int64_t>(2048, fits);
      // TensorRT-LLM launches from C++ with CUDA graphs: no per-kernel host cost.
      const Throughput t = wave_throughput(*model_, *s, batch, c.in, c.out, 8192, LaunchMode::kCudaGraph);
      print_throughput("kv-limited", *s, c.in, c.out, t, c.published);
      EXPECT_GT(t.tokens_per_s, c.published / 4);
      EXPECT_LT(t.tokens_per_s, c.published * 4);
      const Throughput small = wave_throughput(*model_, *s, std::min<std::int64_t>(batch, 64), c.in, c.out, 8192,
                                               LaunchMode::kCudaGraph);
      print_throughput("batch<=64", *s, c.in, c.out, small, c.published);
      EXPECT_LT(small.tokens_per_s, t.tokens_per_s);
    }
  }
}

}  // namespace
}  // namespace chatscale
