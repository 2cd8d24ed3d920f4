#include "bench_stats.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <iterator>
#include <numeric>
#include <sstream>

namespace chatscale::bench {
namespace {

double nearest_rank(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

LatencySummary LatencySamples::summarize() const {
  LatencySummary s;
  if (samples_.empty()) return s;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  s.count = sorted.size();
  s.p50_ms = nearest_rank(sorted, 0.50);
  s.p90_ms = nearest_rank(sorted, 0.90);
  s.p99_ms = nearest_rank(sorted, 0.99);
  s.p999_ms = nearest_rank(sorted, 0.999);
  s.max_ms = sorted.back();
  s.mean_ms = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
  return s;
}

std::string summary_json(const LatencySummary& s) {
  char text[256];
  std::snprintf(text, sizeof text,
                "{\"count\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
                "\"max_ms\":%.3f,\"mean_ms\":%.3f}",
                s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms);
  return text;
}

long read_rss_kib(long pid) {
  std::ifstream in(pid > 0 ? "/proc/" + std::to_string(pid) + "/status" : std::string("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    long kib = -1;
    fields >> kib;
    return kib;
  }
  return -1;
}

double read_machine_idle_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = -1, iowait = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait) || cpu != "cpu") return -1;
  return (idle + iowait) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

// Fields 4 (ppid) and 14..17 (utime, stime, cutime, cstime) of /proc/PID/stat, in clock ticks.
struct ProcStat {
  long ppid = -1;
  double own = 0;       // utime + stime
  double children = 0;  // cutime + cstime: reaped children
};

std::optional<ProcStat> read_stat(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  ProcStat stat;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i == 4) stat.ppid = std::stol(field);
    if (i == 14 || i == 15) stat.own += std::stod(field);
    if (i == 16 || i == 17) stat.children += std::stod(field);
  }
  if (stat.ppid < 0) return std::nullopt;
  return stat;
}

double ticks() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

}  // namespace

double read_cpu_seconds(long pid) {
  auto stat = read_stat(std::to_string(pid));
  return stat ? stat->own / ticks() : -1;
}

double read_tree_cpu_seconds(long pid) {
  auto root = read_stat(std::to_string(pid));
  if (!root) return -1;
  double total = root->own + root->children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = read_stat(name);
    if (stat && stat->ppid == pid) total += stat->own;
  }
  return total / ticks();
}

CpuReading read_cpu(long server_pid, const std::vector<long>& database_pids) {
  CpuReading r;
  if (server_pid > 0) r.server = read_cpu_seconds(server_pid);
  for (long pid : database_pids) {
    double used = read_tree_cpu_seconds(pid);
    if (used >= 0) r.database = std::max(r.database, 0.0) + used;
  }
  r.client = read_cpu_seconds(getpid());
  r.idle = read_machine_idle_seconds();
  return r;
}

CpuUse cpu_between(const CpuReading& from, const CpuReading& to, double seconds) {
  auto cores = [seconds](double a, double b) { return a >= 0 && b >= 0 && seconds > 0 ? (b - a) / seconds : -1.0; };
  return {cores(from.server, to.server), cores(from.database, to.database), cores(from.client, to.client),
          cores(from.idle, to.idle)};
}

}  // namespace chatscale::bench
