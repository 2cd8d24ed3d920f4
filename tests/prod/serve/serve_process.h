// Test support: runs the `chatscale serve` binary of this build as a child process (stdout on a pipe,
// stderr to a file), reads its `listening on HOST:PORT` line, waits for or kills it.
//
// Ownership: a ServeProcess owns its child; the destructor kills (SIGKILL) and reaps one still running.
// Thread-safety: one test thread. Failure: spawn failures show as pid -1 or a listening port of 0, so
// the test's assertions fail with the child's stderr (see stderr_text()).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef CHATSCALE_BIN_PATH
#define CHATSCALE_BIN_PATH CHATSCALE_SOURCE_DIR "/build/bin/chatscale"
#endif

namespace chatscale::serve::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ServeProcess {
 public:
  // `chatscale ARGS...`, stderr into err_path.
  ServeProcess(const std::vector<std::string>& args, std::string err_path) : err_path_(std::move(err_path)) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      if (FILE* err = std::fopen(err_path_.c_str(), "w")) dup2(fileno(err), STDERR_FILENO);
      close(fds[0]);
      std::string bin = CHATSCALE_BIN_PATH;
      std::vector<std::string> copy = args;
      std::vector<char*> argv{bin.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~ServeProcess() {
    if (running()) kill_now();
    if (out_ != nullptr) std::fclose(out_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The next line of the child's stdout ("" at EOF).
  std::string read_line() {
    char line[512] = {};
    if (out_ == nullptr || std::fgets(line, sizeof line, out_) == nullptr) return "";
    return line;
  }
  // Reads `listening on HOST:PORT` and returns PORT; 0 when the child printed something else or died.
  int listening_port() {
    const std::string line = read_line();
    const auto colon = line.rfind(':');
    if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) return 0;
    return std::stoi(line.substr(colon + 1));
  }
  bool running() {
    if (pid_ <= 0 || exit_code_ >= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == 0) return true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  // Waits for the child to exit: its exit code, or 128 + the signal that ended it.
  int wait_exit() {
    if (exit_code_ >= 0 || pid_ <= 0) return exit_code_;
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  int kill_now() {
    signal(SIGKILL);
    return wait_exit();
  }
  std::string stderr_text() const { return slurp(err_path_); }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string err_path_;
  int exit_code_ = -1;
};

}  // namespace chatscale::serve::testing
