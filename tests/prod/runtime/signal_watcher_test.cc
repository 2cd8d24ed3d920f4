// SignalWatcher in a forked child (signals are process-wide, so the gtest process is left alone): the
// first SIGTERM asks to drain, a second signal (SIGINT) to stop at once, each reported on stderr.
#include "prod/runtime/signal_watcher.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace chatscale {
namespace {

// Polls `pred` for up to 10 s.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// The child's checks; its exit code says which failed (0: all held).
int child_main() {
  block_stop_signals();
  std::atomic<int> drains{0}, stops{0};
  SignalWatcher watcher("test", [&](bool drain) { (drain ? drains : stops).fetch_add(1); });
  if (kill(getpid(), SIGTERM) != 0) return 10;
  // Wait for the callback's effect, not for signals_seen(): the count moves before the callback runs.
  if (!eventually([&] { return drains.load() == 1; })) return 11;
  if (stops.load() != 0 || watcher.signals_seen() != 1) return 12;
  if (kill(getpid(), SIGINT) != 0) return 13;
  if (!eventually([&] { return stops.load() == 1; })) return 14;
  if (drains.load() != 1 || watcher.signals_seen() != 2) return 15;
  return 0;
}

TEST(SignalWatcher, FirstSignalDrainsSecondStops) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(child_main());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed check " << WEXITSTATUS(status);
}

}  // namespace
}  // namespace chatscale
