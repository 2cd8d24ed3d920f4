#include "gpu/gpu_profile.h"

#include <gtest/gtest.h>

#include <string>

namespace chatscale {
namespace {

const std::string kProfile = std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/calibration/h100-llama3-8b.json";

// A small valid profile; tests break one field at a time.
std::string profile_text(const std::string& top_extra = "", const std::string& shape = R"("hid": 64, "hq": 4,
  "hkv": 2, "d": 16, "ffn": 128, "layers": 2, "vocab": 1000)", const std::string& decode = R"("B1_C512": 0.2)") {
  return R"({"format": "chatscale-gpu-profile/1", "gpu": "Test GPU", "hbm_copy_TBps": 2, "gemm_8192_bf16_TFLOPs": 500,
  )" + top_extra + R"("models": {"m": {"shape": {)" + shape + R"(},
  "prefill_layer_ms": {"128": 0.5, "1024": 0.9}, "decode_layer_ms": {)" + decode + R"(},
  "lm_head_ms": {"1": 0.3}}}})";
}

std::string error_of(const std::string& text) {
  auto p = parse_gpu_profile(text, "p.json");
  EXPECT_FALSE(p.is_ok());
  if (p.is_ok()) return "";
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  return p.status().message();
}

TEST(GpuProfile, LoadsTheCommittedProfileAsItIs) {
  auto p = load_gpu_profile(kProfile);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->gpu.name, "NVIDIA H100 80GB HBM3");
  EXPECT_DOUBLE_EQ(p->gpu.hbm_bytes_per_s, 3.008e12);
  EXPECT_DOUBLE_EQ(p->gpu.dense_bf16_flops, 782.2e12);
  EXPECT_DOUBLE_EQ(p->gpu.memory_bytes, 80e9);  // default: the profile does not say
  ASSERT_EQ(p->models.size(), 1u);
  const ProfiledModel& m = p->models[0];
  EXPECT_EQ(m.name, "llama3-8b");
  EXPECT_EQ(m.shape.hidden, 4096);
  EXPECT_EQ(m.shape.heads, 32);
  EXPECT_EQ(m.shape.kv_heads, 8);
  EXPECT_EQ(m.shape.head_dim, 128);
  EXPECT_EQ(m.shape.ffn, 14336);
  EXPECT_EQ(m.shape.layers, 32);
  EXPECT_EQ(m.shape.vocab, 128256);
  EXPECT_EQ(m.shape.dtype_bytes, 2);
  ASSERT_EQ(m.points.size(), 33u);  // 6 prefill, 21 decode, 6 LM head, in file order
  EXPECT_EQ(m.points[0].label(), "prefill_layer_ms[128]");
  EXPECT_EQ(m.points[0].length, 128);
  EXPECT_EQ(m.points[6].label(), "decode_layer_ms[B1_C512]");
  EXPECT_EQ(m.points[6].batch, 1);
  EXPECT_EQ(m.points[6].length, 512);
  EXPECT_NEAR(m.points[6].measured_ms, 0.2377, 1e-4);
  EXPECT_EQ(m.points[32].label(), "lm_head_ms[256]");
  EXPECT_EQ(m.points[32].batch, 256);
  EXPECT_EQ(p->find_model("llama3-8b"), &p->models[0]);
  EXPECT_EQ(p->find_model("nope"), nullptr);
}

TEST(GpuProfile, OptionalFieldsAndUnknownKeys) {
  auto p = parse_gpu_profile(profile_text(R"("memory_GB": 141, "nvlink_GBps": 900, "allreduce_latency_us": 5,
      "dtype_bytes": 1, "future_field": [1, 2], )"), "p.json");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_DOUBLE_EQ(p->gpu.memory_bytes, 141e9);
  EXPECT_DOUBLE_EQ(p->gpu.nvlink_bytes_per_s, 900e9);
  EXPECT_DOUBLE_EQ(p->gpu.allreduce_latency_s, 5e-6);
  EXPECT_EQ(p->models[0].shape.dtype_bytes, 1);
  EXPECT_EQ(p->models[0].points.size(), 4u);
}

TEST(GpuProfile, ErrorsNameFileFieldAndProblem) {
  EXPECT_EQ(error_of(profile_text(R"("memory_GB": "lots", )")), "p.json: memory_GB: must be a number");
  EXPECT_EQ(error_of(profile_text(R"("memory_GB": -1, )")), "p.json: memory_GB: must be a positive number");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2)")),
            "p.json: models.m.shape.vocab: missing required field");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64.5, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)")), "p.json: models.m.shape.hid: must be an integer");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64, "hq": 4, "hkv": 3, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)")), "p.json: models.m.shape.hkv: must divide hq (4)");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 0, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)")), "p.json: models.m.shape.hid: must be a positive integer");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)", R"("B16C512": 0.2)")),
            "p.json: models.m.decode_layer_ms.B16C512: key must read B<batch>_C<context>, e.g. B16_C512");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)", R"("B1_C512": 0)")),
            "p.json: models.m.decode_layer_ms.B1_C512: must be a positive number of milliseconds");
  EXPECT_EQ(error_of(profile_text("", R"("hid": 64, "hq": 4, "hkv": 2, "d": 16, "ffn": 128, "layers": 2,
      "vocab": 10)", "")), "p.json: models.m.decode_layer_ms: must not be empty");
}

TEST(GpuProfile, ErrorsAtTheTopLevel) {
  EXPECT_EQ(error_of("[1, 2]"), "p.json: the profile must be a JSON object");
  EXPECT_EQ(error_of(R"({"gpu": "x"})"), "p.json: format: missing required field");
  EXPECT_EQ(error_of(R"({"format": "chatscale-gpu-profile/2"})"),
            "p.json: format: must be \"chatscale-gpu-profile/1\", got \"chatscale-gpu-profile/2\"");
  EXPECT_EQ(error_of(R"({"format": "chatscale-gpu-profile/1", "gpu": "x", "hbm_copy_TBps": 3})"),
            "p.json: gemm_8192_bf16_TFLOPs: missing required field");
  EXPECT_EQ(error_of(R"({"format": "chatscale-gpu-profile/1", "gpu": "x", "hbm_copy_TBps": 3,
      "gemm_8192_bf16_TFLOPs": 700, "models": {}})"), "p.json: models: must not be empty");
  EXPECT_EQ(error_of(R"({"format": "chatscale-gpu-profile/1", "gpu": "x", "hbm_copy_TBps": 3,
      "gemm_8192_bf16_TFLOPs": 700, "models": {"m": 3}})"), "p.json: models.m: must be an object");
  const std::string syntax = error_of("{\"format\": \n  \"x\",, }");
  EXPECT_EQ(syntax.rfind("p.json: not valid JSON: parse error at line 2", 0), 0u) << syntax;
  auto missing = load_gpu_profile("/nonexistent/profile.json");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().message(), "/nonexistent/profile.json: cannot open the file");
}

TEST(GpuProfile, KeysMustBePositiveIntegers) {
  for (const char* key : {"0", "-5", "12a", "", "1.5"}) {
    std::string text = profile_text();
    text.replace(text.find("\"1024\""), 6, std::string("\"") + key + "\"");
    EXPECT_EQ(error_of(text), std::string("p.json: models.m.prefill_layer_ms.") + key +
                                  ": key must be a positive integer");
  }
}

}  // namespace
}  // namespace chatscale
