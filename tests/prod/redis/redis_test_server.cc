#include "tests/prod/redis/redis_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

namespace chatscale::testing {
namespace {

// A port the kernel says is free now (bind to port 0, read it back, close).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool answers_ping(int port) {
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r != nullptr && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
    if (r != nullptr) freeReplyObject(r);
  }
  if (c != nullptr) redisFree(c);
  return ok;
}

}  // namespace

RedisTestServer::~RedisTestServer() { kill(); }

bool RedisTestServer::start() {
  if (running()) return true;
  if (access("/usr/bin/redis-server", X_OK) != 0) {
    ADD_FAILURE() << "/usr/bin/redis-server is not installed (run scripts/install-deps)";
    return false;
  }
  if (port_ != 0) return start_on(port_);
  // Another process may take the port between the check and redis's bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = free_port();
    if (port != 0 && start_on(port)) return true;
  }
  ADD_FAILURE() << "redis-server did not start on any of 5 free ports";
  return false;
}

bool RedisTestServer::start_on(int port) {
  std::string port_arg = std::to_string(port);
  std::vector<const char*> argv = {"/usr/bin/redis-server", "--port", port_arg.c_str(), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      dup2(devnull, STDOUT_FILENO);
    }
    execv(argv[0], const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  if (pid < 0) return false;
  pid_ = pid;
  port_ = port;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers_ping(port)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: the port was taken, most likely
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  return false;
}

void RedisTestServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisTestServer::freeze() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisTestServer::thaw() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

}  // namespace chatscale::testing
