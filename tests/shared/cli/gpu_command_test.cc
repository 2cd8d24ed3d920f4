#include "cli/gpu_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli/args.h"
#include "gpu/gpu_profile.h"
#include "gpu/iteration_time_model.h"

namespace chatscale::cli {
namespace {

const std::string kProfile = std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/calibration/h100-llama3-8b.json";
const std::string kModel = std::string(CHATSCALE_SOURCE_DIR) + "/tests/shared/gpu/data/llama3-8b.yaml";
const std::string kModel70 = std::string(CHATSCALE_SOURCE_DIR) + "/tests/shared/gpu/data/llama2-70b.yaml";

struct CommandRun {
  int code = 0;
  std::string out, err;
};

CommandRun run_command(const std::vector<std::string>& args) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  CommandRun r;
  r.code = gpu_command(args);
  std::fflush(stdout);
  r.out = testing::internal::GetCapturedStdout();
  r.err = testing::internal::GetCapturedStderr();
  return r;
}

std::vector<std::string> predict_args(const std::string& phase, const std::string& batch, const std::string& context) {
  return {"predict", "--calibration", kProfile, "--model", kModel, "--phase", phase, "--batch", batch,
          "--context", context};
}

// The single line is a number, and nothing else is printed.
double single_number(const std::string& out) {
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  std::size_t used = 0;
  const double v = std::stod(out, &used);
  EXPECT_EQ(used, out.size() - 1) << out;
  return v;
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(GpuCommand, PredictsOneNumberMatchingTheModel) {
  const CommandRun r = run_command(predict_args("decode", "16", "2048"));
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  const double ms = single_number(r.out);
  auto profile = load_gpu_profile(kProfile);
  auto model = IterationTimeModel::calibrate(profile.value(), "llama3-8b");
  auto shape = load_model_shape_file(kModel);
  ASSERT_TRUE(model.is_ok() && shape.is_ok());
  EXPECT_NEAR(ms, model->predict_ms(*shape, IterationShape::decode(16, 2048), 1), 1e-4);
}

TEST(GpuCommand, PerLayerPrefillAndTensorParallel) {
  const CommandRun layer = run_command([] {
    auto a = predict_args("prefill", "1", "2048");
    a.push_back("--per-layer");
    return a;
  }());
  ASSERT_EQ(layer.code, kExitOk) << layer.err;
  const double layer_ms = single_number(layer.out);
  EXPECT_GT(layer_ms, 1.0);  // the profile measured 1.70 ms for this layer
  EXPECT_LT(layer_ms, 2.5);
  const CommandRun whole = run_command(predict_args("prefill", "1", "2048"));
  EXPECT_GT(single_number(whole.out), 32 * layer_ms * 0.9);
  auto tp = predict_args("prefill", "1", "2048");
  tp[4] = kModel70;
  tp.insert(tp.end(), {"--tp", "8"});
  const CommandRun tp8 = run_command(tp);
  ASSERT_EQ(tp8.code, kExitOk) << tp8.err;
  EXPECT_GT(single_number(tp8.out), 30.0);
}

TEST(GpuCommand, BadInputExitsTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"estimate"},
      {"predict", "--model", kModel, "--phase", "decode", "--batch", "1", "--context", "1"},
      {"predict", "--calibration", kProfile, "--phase", "decode", "--batch", "1", "--context", "1"},
      predict_args("both", "1", "512"),
      predict_args("decode", "0", "512"),
      predict_args("decode", "1", "0"),
      predict_args("decode", "many", "512"),
      predict_args("decode", "1", "512"),  // with --tp 3 below
      {"predict", "--calibration", "/nonexistent.json", "--model", kModel, "--phase", "decode", "--batch", "1",
       "--context", "1"},
      {"predict", "--unknown"},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    std::vector<std::string> args = bad[i];
    if (i == 8) args.insert(args.end(), {"--tp", "3"});
    const CommandRun r = run_command(args);
    EXPECT_EQ(r.code, kExitBadInput) << i;
    EXPECT_EQ(r.out, "") << i;
    EXPECT_NE(r.err, "") << i;
  }
}

TEST(GpuCommand, FileErrorsNameTheFile) {
  const std::string yaml = temp_file("gpu_cmd_bad.yaml", "hidden: 4096\nheads: 32\nkv_heads: 5\nhead_dim: 128\n"
                                                         "ffn: 14336\nlayers: 32\nvocab: 1000\n");
  auto args = predict_args("decode", "1", "512");
  args[4] = yaml;
  CommandRun r = run_command(args);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_NE(r.err.find(yaml + ":3: kv_heads: must divide heads (32), got 5"), std::string::npos) << r.err;
  const std::string json = temp_file("gpu_cmd_bad.json", R"({"format": "chatscale-gpu-profile/1"})");
  args = predict_args("decode", "1", "512");
  args[2] = json;
  r = run_command(args);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_EQ(r.err, json + ": gpu: missing required field\n");
  args = predict_args("decode", "1", "512");
  args.insert(args.end(), {"--profile-model", "gpt-5"});
  r = run_command(args);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_NE(r.err.find("no model \"gpt-5\""), std::string::npos) << r.err;
}

TEST(GpuCommand, Help) {
  const CommandRun r = run_command({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("--calibration"), std::string::npos);
}

}  // namespace
}  // namespace chatscale::cli
