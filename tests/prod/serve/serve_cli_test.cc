// The `chatscale serve` process itself: --help, exit 2 with "file:line: field: problem" for a bad
// configuration, and a run that prints `listening on HOST:PORT`, answers over HTTP and drains to exit
// 0 on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

#ifndef CHATSCALE_BIN_PATH
#define CHATSCALE_BIN_PATH CHATSCALE_SOURCE_DIR "/build/bin/chatscale"
#endif

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // the child's stdout
  std::string err_path;  // its stderr, in a file
};

Child spawn(const std::vector<std::string>& args, const std::string& err_path) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    FILE* err = std::fopen(err_path.c_str(), "w");
    if (err != nullptr) dup2(fileno(err), STDERR_FILENO);
    close(pipe_fds[0]);
    std::vector<char*> argv;
    std::string bin = CHATSCALE_BIN_PATH;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  return Child{pid, fdopen(pipe_fds[0], "r"), err_path};
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("serve-cli-test-" + std::to_string(getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write_config(const std::string& text) {
    auto path = (dir_ / "serve.yaml").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ServeCli, HelpAndBadConfiguration) {
  Child help = spawn({"serve", "--help"}, (dir_ / "err").string());
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, help.out), nullptr);
  EXPECT_NE(std::string(line).find("chatscale serve"), std::string::npos);
  std::fclose(help.out);
  EXPECT_EQ(wait_exit(help.pid), 0);

  std::string config = write_config("listen: {port: 99999}\nsecrets: {}\nbackends: []\n");
  Child bad = spawn({"serve", "--config", config}, (dir_ / "err").string());
  std::fclose(bad.out);
  EXPECT_EQ(wait_exit(bad.pid), 2);
  std::string err = slurp(bad.err_path);
  EXPECT_NE(err.find(config + ":1: listen.port: must be between 0 and 65535"), std::string::npos) << err;

  Child missing = spawn({"serve"}, (dir_ / "err").string());
  std::fclose(missing.out);
  EXPECT_EQ(wait_exit(missing.pid), 2);
}

TEST_F(ServeCli, ServesAndDrainsOnSigterm) {
  const std::string hex(64, 'a');
  std::string config = write_config("listen: {host: 127.0.0.1, port: 8080}\nsecrets: {jwt_secret: \"" + hex +
                                    "\", api_key_pepper: \"" + hex +
                                    "\"}\nbackends: [{name: synthetic, kind: synthetic}]\n");
  Child server = spawn({"serve", "--config", config, "--port", "0"}, (dir_ / "err").string());
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, server.out), nullptr) << slurp(server.err_path);
  std::string listening(line);
  ASSERT_EQ(listening.rfind("listening on 127.0.0.1:", 0), 0u) << listening;
  int port = std::stoi(listening.substr(std::string("listening on 127.0.0.1:").size()));
  EXPECT_NE(port, 8080) << "--port 0 overrides listen.port";

  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/healthz", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  EXPECT_EQ(res.result_int(), 200u);
  socket.close();

  kill(server.pid, SIGTERM);
  EXPECT_EQ(wait_exit(server.pid), 0);
  std::fclose(server.out);
  std::string err = slurp(server.err_path);
  EXPECT_NE(err.find("synthetic backend: generated text for tests and load tests only"), std::string::npos) << err;
  EXPECT_NE(err.find("NOT durable"), std::string::npos) << err;
  EXPECT_NE(err.find("SIGTERM: draining"), std::string::npos) << err;
  EXPECT_EQ(err.find(hex), std::string::npos) << "no secret in the logs";
}

}  // namespace
