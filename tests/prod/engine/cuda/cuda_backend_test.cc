// The CUDA engine's serving and profiling layer: CudaModelBackend against CpuModelBackend (prefill +
// 16 teacher-forced decode steps within 3e-2 x the logit range; decode graphs == eager within 1e-4 x
// range; chunked == whole prefill within 1e-2 x range), refused batches write nothing, EngineLoop on
// the GPU (batched == alone, cancellation frees blocks) and CudaProfileBackend (a tiny profile that
// the shared loader reads as chatscale-gpu-profile/1). The GPU tests run the shared checks of
// prod/engine/cuda/cuda_checks_backend.h (the standalone cuda_check runs the same) and skip without a
// usable GPU, saying why; the option checks, the launcher's shape checks and the no-device errors run
// everywhere.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "gpu/gpu_profile.h"
#include "prod/engine/cuda/cuda_checks_backend.h"
#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_model_backend.h"
#include "prod/engine/cuda/kernels.h"

namespace chatscale::gpu {
namespace {

#define SKIP_WITHOUT_GPU()                                                                 \
  do {                                                                                     \
    auto devices = cuda_devices();                                                         \
    if (!devices.is_ok()) GTEST_SKIP() << "no usable GPU: " << devices.status().message(); \
  } while (0)

void run_check(const std::string& name) {
  for (const NamedCheck& check : cuda_backend_checks()) {
    if (check.name != name) continue;
    const CheckResult r = check.run();
    EXPECT_TRUE(r.ok) << name << ": " << r.detail;
    std::printf("%s: %s\n", name.c_str(), r.detail.c_str());
    return;
  }
  FAIL() << "no check named " << name;
}

TEST(CudaModelBackendTest, MatchesTheCpuBackendOverPrefillAndDecode) {
  SKIP_WITHOUT_GPU();
  run_check("backend_vs_cpu");
}

TEST(CudaModelBackendTest, DecodeGraphsEqualEagerForwards) {
  SKIP_WITHOUT_GPU();
  run_check("graph_vs_eager");
}

TEST(CudaModelBackendTest, ChunkedPrefillEqualsWholePrefill) {
  SKIP_WITHOUT_GPU();
  run_check("chunked_prefill");
}

TEST(CudaModelBackendTest, RefusedBatchesWriteNothing) {
  SKIP_WITHOUT_GPU();
  run_check("backend_validation");
}

TEST(CudaEngineLoopTest, ConcurrentRequestsEqualTheirAloneTokens) {
  SKIP_WITHOUT_GPU();
  run_check("loop_batched_alone");
}

TEST(CudaEngineLoopTest, CancellationFreesBlocks) {
  SKIP_WITHOUT_GPU();
  run_check("loop_cancel");
}

TEST(CudaProfileBackendTest, TinyProfileLoadsBackAsGpuProfile) {
  SKIP_WITHOUT_GPU();
  run_check("profile_tiny");
  std::string json;
  auto r = tiny_cuda_profile(&json);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  std::random_device rd;
  const auto path = std::filesystem::temp_directory_path() /
                    ("cuda_profile_" + std::to_string(::getpid()) + "_" + std::to_string(rd()) + ".json");
  {
    std::ofstream out(path);
    out << json;
  }
  auto loaded = load_gpu_profile(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  ASSERT_EQ(loaded->models.size(), 1u);
  // Decode points plus batch-1 prefill points plus LM-head rows, as the CPU profile writes them.
  EXPECT_EQ(loaded->models[0].points.size(), 4u + 2u + 2u);
}

// Without a device: create() gives an error Status (never aborts); with one, bad options are refused
// before the device is touched.
TEST(CudaModelBackendTest, OptionsAndMissingDeviceAreErrors) {
  engine::LlamaConfig c;
  c.vocab = 32, c.hidden = 16, c.layers = 1, c.heads = 2, c.kv_heads = 1, c.head_dim = 8, c.ffn = 32;
  c.context_length = 64, c.rope_dim = 8;
  CudaBackendOptions bad;
  bad.max_rows = 0;
  auto refused = CudaModelBackend::create_random(c, bad, 1);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().message();
  if (cuda_devices().is_ok()) GTEST_SKIP() << "a GPU is present: the no-device error cannot be checked";
  CudaBackendOptions o;
  o.num_blocks = 8;
  auto none = CudaModelBackend::create_random(c, o, 1);
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().code(), StatusCode::kInvalidArgument) << none.status().message();
  EXPECT_FALSE(none.status().message().empty());
}

// The fused RoPE + KV-write launcher validates its shapes before any launch (null pointers are never
// dereferenced on the host).
TEST(RopeKvWriteTest, BadShapesAreInvalidArgumentsBeforeAnyLaunch) {
  auto call = [](int rope_dim, int block_size) {
    return rope_kv_write_launch(nullptr, nullptr, nullptr, nullptr, nullptr, 4, nullptr, nullptr, 2, 4, 2, 16,
                                rope_dim, block_size, nullptr);
  };
  EXPECT_EQ(call(17, 16).code(), StatusCode::kInvalidArgument);  // odd
  EXPECT_EQ(call(32, 16).code(), StatusCode::kInvalidArgument);  // > head_dim
  EXPECT_EQ(call(16, 0).code(), StatusCode::kInvalidArgument);   // no block size
  EXPECT_TRUE(rope_kv_write_launch(nullptr, nullptr, nullptr, nullptr, nullptr, 4, nullptr, nullptr, 0, 4, 2, 16, 16,
                                   16, nullptr)
                  .is_ok());  // zero rows: nothing to launch
}

}  // namespace
}  // namespace chatscale::gpu
