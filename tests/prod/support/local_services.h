// LocalServices: a test fixture that runs `scripts/services up` in a fresh temporary directory on a
// free block of four loopback ports: a PostgreSQL 15 primary, two streaming replicas and Redis, the
// schema migrated (`chatscale migrate`, the binary of this build) and a serve.yaml written. Integration
// tests use it for real databases; LocalServicesEnvironment starts one set per test process.
//
// Ownership: a LocalServices owns its directory and the servers in it; stop() (or the destructor) runs
// `scripts/services down` and removes the directory. Should the process die first (a crash, a ctest
// timeout), a watcher started by `up --watch-pid` does both within a second or so. Not movable.
// Thread-safety: start() and stop() from one thread; the accessors and psql() from any thread once
// start() has returned.
// Failure: start() returns FailedPrecondition when PostgreSQL 15 or redis-server is not installed (it
// never skips: CI has them) and Unavailable with the script's output when the services do not come up
// (it tries three port blocks before giving up). psql() returns Unavailable with psql's error text.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.h"

namespace chatscale::testing {

struct LocalServicesOptions {
  bool migrate = true;  // run `chatscale migrate` on the primary (false: an empty chatscale database)
};

class LocalServices {
 public:
  static constexpr int kReplicas = 2;

  explicit LocalServices(LocalServicesOptions options = {});
  ~LocalServices();
  LocalServices(const LocalServices&) = delete;
  LocalServices& operator=(const LocalServices&) = delete;

  Status start();
  // Stops every server and removes the directory; safe to call twice or before start().
  Status stop();
  bool running() const { return running_; }

  // Connection strings as role `chatscale` (the owner of database `chatscale`), libpq key=value form:
  // "host=127.0.0.1 port=N dbname=chatscale user=chatscale".
  std::string primary_dsn() const { return dsn(port_base_, "chatscale"); }
  std::string replica_dsn(int index) const { return dsn(port_base_ + 1 + index, "chatscale"); }
  std::vector<std::string> replica_dsns() const;
  // The same servers as superuser `postgres` (for pg_wal_replay_pause() and the like).
  std::string primary_admin_dsn() const { return dsn(port_base_, "postgres"); }
  std::string replica_admin_dsn(int index) const { return dsn(port_base_ + 1 + index, "postgres"); }

  std::string redis_host() const { return "127.0.0.1"; }
  int redis_port() const { return port_base_ + 3; }
  int port_base() const { return port_base_; }
  // The directory holding everything, and the serve.yaml `up` wrote in it (mode 0600).
  const std::string& dir() const { return dir_; }
  std::string serve_yaml_path() const { return dir_ + "/serve.yaml"; }
  // Process ids of the three postmasters and redis-server while running (read from their pid files).
  std::vector<int> server_pids() const;

  // Runs `sql` with psql (-X -A -t -q, ON_ERROR_STOP) against `dsn`; returns its standard output
  // (rows one per line, columns separated by '|', no trailing newline).
  static Result<std::string> psql(const std::string& dsn, const std::string& sql);

 private:
  static std::string dsn(int port, const char* user);
  Status start_at(int port_base);

  LocalServicesOptions options_;
  std::string dir_;
  int port_base_ = 0;
  bool running_ = false;
};

// Starts one LocalServices for the whole test binary. Register it at namespace scope in a test file:
//   const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment());
// and reach the services from tests with LocalServicesEnvironment::services(). A failed start is a
// fatal failure of the environment: gtest then runs no test and the binary fails.
class LocalServicesEnvironment : public ::testing::Environment {
 public:
  explicit LocalServicesEnvironment(LocalServicesOptions options = {});
  void SetUp() override;
  void TearDown() override;
  // The running services; only valid between SetUp and TearDown.
  static LocalServices& services();

 private:
  LocalServices services_;
};

}  // namespace chatscale::testing
