// LocalServices: the services come up, replicas stream the primary's writes, a paused replica stops
// replaying and catches up on resume, Redis answers, and stop() leaves no process behind.
#include "tests/prod/support/local_services.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

namespace chatscale::testing {
namespace {

// The schema is not this test's subject: an empty database keeps it independent of the migrations.
const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment(LocalServicesOptions{.migrate = false}));

// Polls `done` every 20 ms until it holds or 30 s have passed; returns its last answer.
bool poll_until(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string query(const std::string& dsn, const std::string& sql) {
  Result<std::string> r = LocalServices::psql(dsn, sql);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : std::string("<error>");
}

// False while the replica has not replayed the table's creation yet (the query then fails).
bool sees(const std::string& dsn, const std::string& table, int id) {
  Result<std::string> r = LocalServices::psql(dsn, "SELECT count(*) FROM " + table + " WHERE id = " + std::to_string(id));
  return r.is_ok() && r.value() == "1";
}

// Alive and not a zombie (a zombie is dead: it only waits for a parent to reap it).
bool process_alive(int pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  return state != "Z";
}

TEST(LocalServicesTest, WriteOnPrimaryReachesBothReplicas) {
  LocalServices& s = LocalServicesEnvironment::services();
  query(s.primary_dsn(), "CREATE TABLE reach (id int PRIMARY KEY); INSERT INTO reach VALUES (7)");
  for (const std::string& replica : s.replica_dsns()) {
    EXPECT_TRUE(poll_until([&] { return sees(replica, "reach", 7); })) << replica;
    EXPECT_EQ(query(replica, "SELECT pg_is_in_recovery()"), "t");
  }
  // Replicas are read-only.
  EXPECT_FALSE(LocalServices::psql(s.replica_dsn(0), "INSERT INTO reach VALUES (8)").is_ok());
}

TEST(LocalServicesTest, PausedReplicaLagsAndCatchesUpOnResume) {
  LocalServices& s = LocalServicesEnvironment::services();
  query(s.primary_dsn(), "CREATE TABLE pause_probe (id int PRIMARY KEY)");
  ASSERT_TRUE(poll_until([&] {
    return query(s.replica_dsn(0), "SELECT count(*) FROM pg_class WHERE relname = 'pause_probe'") == "1";
  }));
  query(s.replica_admin_dsn(0), "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(poll_until([&] { return query(s.replica_admin_dsn(0), "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));

  query(s.primary_dsn(), "INSERT INTO pause_probe VALUES (1)");
  std::string written = query(s.primary_admin_dsn(), "SELECT pg_current_wal_lsn()");
  // The other replica replays it; the paused one receives the WAL but does not apply it.
  EXPECT_TRUE(poll_until([&] { return sees(s.replica_dsn(1), "pause_probe", 1); }));
  ASSERT_TRUE(poll_until([&] {
    return query(s.replica_admin_dsn(0), "SELECT pg_last_wal_receive_lsn() >= '" + written + "'::pg_lsn") == "t";
  }));
  EXPECT_FALSE(sees(s.replica_dsn(0), "pause_probe", 1));
  EXPECT_EQ(query(s.replica_admin_dsn(0), "SELECT pg_last_wal_replay_lsn() < '" + written + "'::pg_lsn"), "t");

  query(s.replica_admin_dsn(0), "SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(poll_until([&] { return sees(s.replica_dsn(0), "pause_probe", 1); }));
}

TEST(LocalServicesTest, RedisAnswersPing) {
  LocalServices& s = LocalServicesEnvironment::services();
  redisContext* c = redisConnect(s.redis_host().c_str(), s.redis_port());
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->err, 0) << c->errstr;
  auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
  ASSERT_NE(reply, nullptr) << c->errstr;
  EXPECT_EQ(reply->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(reply->str, reply->len), "PONG");
  freeReplyObject(reply);
  redisFree(c);
}

TEST(LocalServicesTest, ServeYamlNamesTheServersAndIsPrivate) {
  LocalServices& s = LocalServicesEnvironment::services();
  namespace fs = std::filesystem;
  auto perms = fs::status(s.serve_yaml_path()).permissions();
  EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(s.serve_yaml_path());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"" + s.primary_dsn() + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"" + s.replica_dsn(1) + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("redis: {host: 127.0.0.1, port: " + std::to_string(s.redis_port()) + "}"), std::string::npos);
  EXPECT_NE(text.find("listen: {host: 127.0.0.1, port: 0}"), std::string::npos);
}

TEST(LocalServicesTest, StopLeavesNoProcessBehind) {
  // A second set of its own, on other ports, so the shared one stays up for the other tests.
  LocalServices own(LocalServicesOptions{.migrate = false});
  Status started = own.start();
  ASSERT_TRUE(started.is_ok()) << started.to_string();
  ASSERT_NE(own.port_base(), LocalServicesEnvironment::services().port_base());
  std::vector<int> pids = own.server_pids();
  ASSERT_EQ(pids.size(), 4u);
  for (int pid : pids) EXPECT_TRUE(process_alive(pid)) << pid;
  std::string dir = own.dir();
  int watcher = 0;
  std::ifstream(dir + "/watcher.pid") >> watcher;
  ASSERT_GT(watcher, 0);
  EXPECT_TRUE(process_alive(watcher));

  Status stopped = own.stop();
  ASSERT_TRUE(stopped.is_ok()) << stopped.to_string();
  EXPECT_FALSE(own.running());
  // pg_ctl stop -w returns once the postmaster has exited; redis is waited for by the script.
  for (int pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
  EXPECT_TRUE(poll_until([&] { return !process_alive(watcher); }));  // killed by down (no wait for it)
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(own.stop().is_ok());  // twice is fine
}

// A test process that dies without stop() (here: _exit in a child, as a crash would) leaves no server
// and no directory: the watcher of `up --watch-pid` cleans up.
TEST(LocalServicesTest, DeadOwnerLeavesNothingBehind) {
  int pipe_fds[2];
  // Close-on-exec: the servers the child starts must not hold the write end (no EOF otherwise).
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    auto* own = new LocalServices(LocalServicesOptions{.migrate = false});  // never destroyed
    std::string report;
    if (own->start().is_ok()) {
      report = own->dir() + "\n";
      for (int pid : own->server_pids()) report += std::to_string(pid) + " ";
    }
    if (write(pipe_fds[1], report.data(), report.size()) < 0) _exit(2);
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);  // reaped: the watcher sees it gone
  std::istringstream in(report);
  std::string dir;
  std::vector<int> pids;
  in >> dir;
  for (int pid; in >> pid;) pids.push_back(pid);
  ASSERT_EQ(pids.size(), 4u) << "the child could not start its services: " << report;
  EXPECT_TRUE(poll_until([&] { return !std::filesystem::exists(dir); })) << dir;
  for (int pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
}

}  // namespace
}  // namespace chatscale::testing
