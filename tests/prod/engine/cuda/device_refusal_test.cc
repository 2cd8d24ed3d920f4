// Where the engine cannot run on CUDA it says why, with exit code 2 from the CLI: a build without the
// CUDA engine names the CMake option; a CUDA build on a machine without a usable GPU passes the CUDA
// error text on ("no CUDA device: ..."). EngineRuntime::create (chatscale engine, serve.yaml backends
// of kind engine), and `chatscale engine` and `chatscale profile --device cuda` as processes. On a
// CUDA build with a GPU the refusals cannot happen and the tests skip.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "prod/engine/server/engine_runtime.h"
#include "prod/runtime/real_clock.h"
#if defined(CHATSCALE_ENGINE_CUDA)
#include "prod/engine/cuda/cuda_devices.h"
#endif

namespace chatscale::engine {
namespace {

// The refusal this build and machine give for --device cuda, or "" when CUDA is usable here.
std::string expected_refusal() {
#if defined(CHATSCALE_ENGINE_CUDA)
  return gpu::cuda_devices().is_ok() ? "" : "--device cuda: no CUDA device: ";
#else
  return "--device cuda: this build has no CUDA backend (configure with -DCHATSCALE_CUDA=ON on a machine with the "
         "CUDA toolkit)";
#endif
}

TEST(EngineDeviceTest, RuntimeRefusesCudaWhereItCannotRun) {
  const std::string expected = expected_refusal();
  if (expected.empty()) GTEST_SKIP() << "CUDA is usable here";
  RealClock clock;
  EngineOptions o;
  o.model_path = "/nonexistent/model.gguf";  // the device is checked before the model is read
  o.device = "cuda";
  auto rt = EngineRuntime::create(o, clock);
  ASSERT_FALSE(rt.is_ok());
  EXPECT_EQ(rt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rt.status().message().rfind(expected, 0), 0u) << rt.status().message();
  o.device = "tpu";
  auto tpu = EngineRuntime::create(o, clock);
  ASSERT_FALSE(tpu.is_ok());
  EXPECT_NE(tpu.status().message().find("--device tpu: must be cpu or cuda"), std::string::npos)
      << tpu.status().message();
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(EngineDeviceTest, EngineCommandExitsTwoWithTheReason) {
  const std::string expected = expected_refusal();
  if (expected.empty()) GTEST_SKIP() << "CUDA is usable here";
  std::random_device rd;
  const auto err_path = std::filesystem::temp_directory_path() /
                        ("engine_device_" + std::to_string(::getpid()) + "_" + std::to_string(rd()) + ".err");
  const std::string cmd = std::string("'") + CHATSCALE_BIN_PATH +
                          "' engine --device cuda --port 0 --model /nonexistent/model.gguf 2>'" + err_path.string() + "'";
  const int status = std::system(cmd.c_str());
  const std::string err = slurp(err_path);
  std::filesystem::remove(err_path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << err;
  EXPECT_NE(err.find(expected), std::string::npos) << err;
}

TEST(EngineDeviceTest, ProfileCommandExitsTwoWithTheReason) {
  const std::string expected = expected_refusal();
  if (expected.empty()) GTEST_SKIP() << "CUDA is usable here";
  std::random_device rd;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("engine_device_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  const std::string cmd = std::string("'") + CHATSCALE_BIN_PATH + "' profile --device cuda --model '" +
                          (dir / "none.gguf").string() + "' --out '" + (dir / "p.json").string() + "' 2>'" +
                          (dir / "err.txt").string() + "'";
  const int status = std::system(cmd.c_str());
  const std::string err = slurp(dir / "err.txt");
  const bool wrote = std::filesystem::exists(dir / "p.json");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << err;
  EXPECT_NE(err.find(expected), std::string::npos) << err;
  EXPECT_FALSE(wrote);
}

}  // namespace
}  // namespace chatscale::engine
