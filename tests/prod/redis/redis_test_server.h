// RedisTestServer: a throw-away redis-server for tests, on a free loopback port, with no persistence
// (`--save '' --appendonly no`), run as a child of the test process so a test can kill it (SIGKILL),
// freeze it (SIGSTOP/SIGCONT) and start it again on the same port.
//
// Ownership: owns the child process; the destructor kills and reaps it.
// Thread-safety: one thread drives it (the test's main thread).
// Failure: start() fails the current test (gtest assertion) with the reason when redis-server is not
// installed or does not answer PING within 10 s.
#pragma once

#include <sys/types.h>

namespace chatscale::testing {

class RedisTestServer {
 public:
  RedisTestServer() = default;
  ~RedisTestServer();
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  // Starts on a free port (the first call) or on the same port again (after kill()); returns whether
  // it answers PING. Use with ASSERT_TRUE.
  bool start();
  // SIGKILL and reap: connections drop at once, and the data is gone.
  void kill();
  void freeze();  // SIGSTOP: connections stay open, replies never come
  void thaw();    // SIGCONT
  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

 private:
  bool start_on(int port);

  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace chatscale::testing
