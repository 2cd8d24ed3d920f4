// `chatscale model` as a process: writes a tiny random model from a SHAPE.yaml, `model info` prints
// its shape and tokenizer, and bad input (missing --shape, unknown shape key) exits 2 with a message.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "prod/engine/model/llama_loader.h"
#include "tests/prod/engine/model/test_dir.h"

namespace chatscale::engine {
namespace {

using testing::TempDir;

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliRun run(const TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string cmd = std::string("'") + CHATSCALE_BIN_PATH + "' model " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

TEST(ModelCli, RandomThenInfo) {
  TempDir dir;
  std::ofstream(dir.file("SHAPE.yaml")) << "# tiny\nhidden: 64\nheads: 4\nkv_heads: 2\nhead_dim: 16\nffn: 96\n"
                                           "layers: 2\nvocab: 320\ndtype_bytes: 1\n";
  const std::string model = dir.file("m.gguf");
  CliRun r = run(dir, "random --shape '" + dir.file("SHAPE.yaml") + "' --out '" + model + "' --seed 3 --untied");
  ASSERT_EQ(r.code, 0) << r.err;
  auto m = load_llama_file(model);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->weights.layers[0].wq.dtype, DType::kQ8_0);  // dtype_bytes: 1
  EXPECT_FALSE(m->tied_output);
  r = run(dir, "info '" + model + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture: llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shape: hidden 64, layers 2, heads 4, kv_heads 2, head_dim 16, ffn 96, vocab 320"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32 5, Q8_0 16"), std::string::npos) << r.out;
  // 320*64*2 (embd, output) + 64 + 2 * (2*64 + 64*64*2 + 64*32*2 + 64*96*3)
  EXPECT_NE(r.out.find("parameters: " + std::to_string(320 * 64 * 2 + 64 + 2 * (2 * 64 + 64 * 64 * 2 + 64 * 32 * 2 + 64 * 96 * 3))),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokenizer: gpt2 (pre llama-bpe), vocab 320, chat template yes"), std::string::npos) << r.out;
}

TEST(ModelCli, BadInputExitsTwo) {
  TempDir dir;
  CliRun r = run(dir, "random --out '" + dir.file("m.gguf") + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--shape SHAPE.yaml is required"), std::string::npos) << r.err;
  std::ofstream(dir.file("S.yaml")) << "hidden: 64\nwidth: 3\n# longer than a GGUF header\n";
  r = run(dir, "random --shape '" + dir.file("S.yaml") + "' --out '" + dir.file("m.gguf") + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("S.yaml:2: unknown key \"width\""), std::string::npos) << r.err;
  r = run(dir, "info '" + dir.file("S.yaml") + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace chatscale::engine
