// `chatscale profile` as a process: bad input exits 2 with a message naming the flag or the grid point,
// and a --quick run on a tiny random GGUF exits 0 and writes a profile the shared loader reads with the
// expected points.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "gpu/gpu_profile.h"
#include "prod/engine/model/random_model.h"
#include "prod/engine/model/shape.h"

namespace chatscale::engine {
namespace {

class ProfileCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("engine_profile_cli_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    auto shape = parse_shape("hidden: 64\nheads: 4\nkv_heads: 2\nhead_dim: 16\nffn: 96\nlayers: 2\nvocab: 320\n"
                             "context_length: 256\n", "tiny.yaml");
    ASSERT_TRUE(shape.is_ok()) << shape.status().message();
    RandomModelOptions o;
    o.dtype = DType::kBF16;
    o.threads = 1;
    ASSERT_TRUE(write_random_model(*shape, o, file("tiny.gguf")).is_ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  struct Run {
    int code = -1;
    std::string out, err;
  };
  Run run(const std::string& args) const {
    const std::string cmd = std::string("'") + CHATSCALE_BIN_PATH + "' profile " + args + " >'" + file("out.txt") +
                            "' 2>'" + file("err.txt") + "'";
    const int status = std::system(cmd.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(file("out.txt"));
    r.err = slurp(file("err.txt"));
    return r;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string base() const { return "--model '" + file("tiny.gguf") + "' --out '" + file("p.json") + "' --threads 1 "; }

  std::filesystem::path dir_;
};

TEST_F(ProfileCli, BadInputExitsTwoNamingTheProblem) {
  const struct {
    std::string args, message;
  } cases[] = {
      {base() + "--frobnicate 3", "unknown option \"--frobnicate\""},
      {base() + "--batches ''", "--batches: the list is empty"},
      {base() + "--contexts 1,,2", "--contexts: not a list of integers"},
      {base() + "--prefill-lengths 0", "--prefill-lengths: 0 is not a positive integer"},
      {base() + "--quick --contexts 32,256", "decode point B1_C256: needs 257 positions per sequence, past the model's "
                                             "context length 256"},
      {base() + "--quick --prefill-lengths 300", "prefill point B1_T300"},
      {base() + "--quick --batches 64 --contexts 255 --kv-gib 0.001", "decode point B64_C255: needs"},
      {base() + "--device tpu", "--device: must be cpu or cuda"},
      {"--out '" + file("p.json") + "'", "--model FILE.gguf is required"},
      {"--model '" + file("tiny.gguf") + "'", "--out PROFILE.json is required"},
      {"--model '" + file("nope.gguf") + "' --out '" + file("p.json") + "'", "nope.gguf"},
      {base() + "--repeats", "--repeats needs a value"},
  };
  for (const auto& c : cases) {
    const Run r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(file("p.json")));
}

TEST_F(ProfileCli, QuickRunWritesALoadableProfile) {
  const Run r = run(base() + "--quick --name tiny");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("wrote " + file("p.json") + " (8 points)"), std::string::npos) << r.out;
  auto p = load_gpu_profile(file("p.json"));
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  ASSERT_NE(p->find_model("tiny"), nullptr);
  const ProfiledModel& m = *p->find_model("tiny");
  EXPECT_EQ(m.shape.hidden, 64);
  EXPECT_EQ(m.shape.vocab, 320);
  EXPECT_EQ(m.shape.dtype_bytes, 2);  // bf16 projections
  // --quick: prefill 32, 128; decode B1, B2 x C32, C128; LM head B1, B2.
  ASSERT_EQ(m.points.size(), 8u);
  EXPECT_EQ(m.points[0].label(), "prefill_layer_ms[32]");
  EXPECT_EQ(m.points[5].label(), "decode_layer_ms[B2_C128]");
  EXPECT_EQ(m.points[7].label(), "lm_head_ms[2]");
  EXPECT_NE(p->gpu.name.find("CPU: "), std::string::npos) << p->gpu.name;
  EXPECT_NE(p->measured_with.find("1 threads"), std::string::npos) << p->measured_with;
  EXPECT_GT(p->gpu.memory_bytes, 0);
}

}  // namespace
}  // namespace chatscale::engine
