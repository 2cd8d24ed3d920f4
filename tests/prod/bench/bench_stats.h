// Measurements for chatscale_loadgen (tests/prod/bench): latency samples and their summary (a run
// keeps every sample, tens of thousands at most, and sorts once at the end, so percentiles are exact,
// not bucketed), and readers of /proc for the memory and CPU of the server, the databases, the load
// generator and the machine.
//
// Ownership: plain values. Thread-safety: LatencySamples none (each shard keeps its own); the readers
// only read /proc. Failure behaviour: an empty set summarizes to count 0 and zeros; a reader returns
// -1 for what it cannot read (a process that has gone, no /proc).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace chatscale::bench {

struct LatencySummary {
  std::size_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
};

class LatencySamples {
 public:
  void add(double ms) { samples_.push_back(ms); }
  std::size_t size() const { return samples_.size(); }
  const std::vector<double>& values() const { return samples_; }
  // Nearest-rank percentiles over every sample.
  LatencySummary summarize() const;

 private:
  std::vector<double> samples_;
};

// `{"count":..,"p50_ms":..,...}` with three decimals.
std::string summary_json(const LatencySummary& s);

// The resident set of process `pid` (0: this process) in KiB (VmRSS in /proc/PID/status); -1 when it
// cannot be read.
long read_rss_kib(long pid);

// Seconds every CPU of the machine has spent idle (idle + iowait in /proc/stat) since boot; -1 when
// it cannot be read. Two readings apart give the idle cores over that interval.
double read_machine_idle_seconds();

// CPU time (user + system) process `pid` has used, in seconds; -1 when it cannot be read.
double read_cpu_seconds(long pid);

// CPU time of process `pid` and of its live children (PostgreSQL's backends are children of the
// postmaster), plus the children it has already reaped, in seconds; -1 when `pid` cannot be read.
double read_tree_cpu_seconds(long pid);

// CPU counters of the processes a run watches and of the whole machine, read at one moment.
struct CpuReading {
  double server = -1;    // the server process
  double database = -1;  // PostgreSQL postmasters with their backends, and Redis
  double client = -1;    // this process
  double idle = -1;      // the machine's idle CPU
};
CpuReading read_cpu(long server_pid, const std::vector<long>& database_pids);

// Cores used (or idle) between two readings `seconds` apart; -1 where a reading is missing.
struct CpuUse {
  double server_cores = -1;
  double database_cores = -1;
  double client_cores = -1;
  double idle_cores = -1;
};
CpuUse cpu_between(const CpuReading& from, const CpuReading& to, double seconds);

}  // namespace chatscale::bench
