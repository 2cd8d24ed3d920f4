#include "tests/prod/support/local_services.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <system_error>

extern char** environ;

namespace chatscale::testing {
namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";
constexpr int kStartAttempts = 3;

LocalServicesEnvironment* g_environment = nullptr;  // the registered environment while it is set up

struct ProcessResult {
  int exit_code = -1;  // -1: it could not run or was killed by a signal
  std::string out;
  std::string err;
};

// Reads both pipes until the child closes them, with poll so neither can fill up and stall the child.
void drain(int out_fd, int err_fd, ProcessResult& result) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
}

// Runs argv[0] (a path) with the current environment plus `extra_env` ("NAME=value"), capturing its
// output. The environment is built before fork: after fork only async-signal-safe calls are allowed.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const auto& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  ProcessResult result;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return result;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return result;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execve(args[0], args.data(), env.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    return result;
  }
  drain(out[0], err[0], result);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// True when nothing listens on or holds any of the four ports [base, base + 3] on 127.0.0.1.
bool ports_free(int base) {
  for (int port = base; port < base + 4; ++port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (!ok) return false;
  }
  return true;
}

// A free block of four ports, from a per-process pseudo-random start in [20000, 60000): parallel test
// processes start far apart, and successive calls in one process move on.
int pick_port_base() {
  static std::mt19937 rng(static_cast<unsigned>(getpid()) * 2654435761u ^
                          static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> start(20000, 59990);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = start(rng);
    if (ports_free(base)) return base;
  }
  return 0;
}

std::string services_script() { return std::string(CHATSCALE_SOURCE_DIR) + "/scripts/services"; }

// The chatscale binary whose `migrate` command `up` runs: $CHATSCALE_BIN, else the one of this build.
std::string chatscale_bin() {
  if (const char* env = std::getenv("CHATSCALE_BIN"); env != nullptr && *env != '\0') return env;
#ifdef CHATSCALE_BIN_PATH
  return CHATSCALE_BIN_PATH;
#else
  return std::string(CHATSCALE_SOURCE_DIR) + "/build/bin/chatscale";
#endif
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

bool redis_installed() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    if (executable(std::string(dir) + "/redis-server")) return true;
  }
  return false;
}

int read_pid(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  if (in >> pid) return pid;
  return 0;
}

}  // namespace

LocalServices::LocalServices(LocalServicesOptions options) : options_(options) {}

LocalServices::~LocalServices() {
  Status stopped = stop();
  if (!stopped.is_ok()) ADD_FAILURE() << stopped.to_string();
}

std::string LocalServices::dsn(int port, const char* user) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " dbname=chatscale user=" + user;
}

std::vector<std::string> LocalServices::replica_dsns() const {
  std::vector<std::string> out;
  for (int i = 0; i < kReplicas; ++i) out.push_back(replica_dsn(i));
  return out;
}

std::vector<int> LocalServices::server_pids() const {
  std::vector<int> pids;
  for (const char* name : {"primary", "replica1", "replica2"}) {
    if (int pid = read_pid(dir_ + "/" + name + "/postmaster.pid"); pid > 0) pids.push_back(pid);
  }
  if (int pid = read_pid(dir_ + "/redis.pid"); pid > 0) pids.push_back(pid);
  return pids;
}

Status LocalServices::start() {
  if (running_) return Status::ok();
  if (!executable(std::string(kPgBin) + "/initdb") || !executable(std::string(kPgBin) + "/pg_basebackup")) {
    return failed_precondition(std::string("PostgreSQL 15 is not installed (") + kPgBin +
                               "/initdb missing): run scripts/install-deps");
  }
  if (!redis_installed()) return failed_precondition("redis-server is not installed: run scripts/install-deps");
  Status last = unavailable("no free block of 4 ports on 127.0.0.1 in 20000-60000");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    int base = pick_port_base();
    if (base == 0) break;
    // Another process may take a port between the check and the servers' bind: try another block.
    last = start_at(base);
    if (last.is_ok()) return last;
  }
  return last;
}

Status LocalServices::start_at(int port_base) {
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / "chatscale-svc-XXXXXX").string();
  if (ec) pattern = "/tmp/chatscale-svc-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return unavailable("local services: mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  // Searchable (not readable) by others, so the postgres user can reach its data directories.
  chmod(pattern.c_str(), 0711);
  dir_ = pattern;
  port_base_ = port_base;
  // --watch-pid: should this process die without stop() (a crash, a ctest timeout), a watcher stops
  // the servers and deletes the directory.
  std::vector<std::string> argv = {"/bin/bash",   services_script(),         "up",
                                   dir_,          "--port-base",             std::to_string(port_base),
                                   "--watch-pid", std::to_string(getpid())};
  if (!options_.migrate) argv.push_back("--no-migrate");
  ProcessResult up = run_process(argv, {"CHATSCALE_BIN=" + chatscale_bin()});
  if (up.exit_code == 0) {
    running_ = true;
    return Status::ok();
  }
  std::string message = "local services: `scripts/services up " + dir_ + " --port-base " +
                        std::to_string(port_base) + "` failed (exit " + std::to_string(up.exit_code) +
                        "):\n" + up.out + up.err;
  // up stops what it started when it fails; down is there for anything it could not stop.
  run_process({"/bin/bash", services_script(), "down", dir_});
  std::filesystem::remove_all(dir_, ec);
  dir_.clear();
  return unavailable(message);
}

Status LocalServices::stop() {
  if (dir_.empty()) return Status::ok();
  ProcessResult down = run_process({"/bin/bash", services_script(), "down", dir_});
  running_ = false;
  if (down.exit_code != 0) {
    return unavailable("local services: `scripts/services down " + dir_ + "` failed (exit " +
                       std::to_string(down.exit_code) + "); files kept:\n" + down.out + down.err);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) return unavailable("local services: removing " + dir_ + ": " + ec.message());
  dir_.clear();
  return Status::ok();
}

Result<std::string> LocalServices::psql(const std::string& dsn, const std::string& sql) {
  ProcessResult r = run_process({std::string(kPgBin) + "/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                 "-d", dsn, "-c", sql},
                                {"PGCONNECT_TIMEOUT=10"});
  if (r.exit_code != 0) {
    return unavailable("psql \"" + dsn + "\" -c \"" + sql + "\" failed (exit " + std::to_string(r.exit_code) +
                       "): " + trim(r.err));
  }
  return trim(std::move(r.out));
}

LocalServicesEnvironment::LocalServicesEnvironment(LocalServicesOptions options) : services_(options) {}

void LocalServicesEnvironment::SetUp() {
  g_environment = this;
  Status started = services_.start();
  ASSERT_TRUE(started.is_ok()) << started.to_string();
}

void LocalServicesEnvironment::TearDown() {
  Status stopped = services_.stop();
  EXPECT_TRUE(stopped.is_ok()) << stopped.to_string();
  g_environment = nullptr;
}

LocalServices& LocalServicesEnvironment::services() {
  if (g_environment == nullptr) {
    ADD_FAILURE() << "LocalServicesEnvironment::services() called outside the environment's lifetime";
    std::abort();
  }
  return g_environment->services_;
}

}  // namespace chatscale::testing
