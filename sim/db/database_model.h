// The simulated PostgreSQL deployment of a scenario: one primary in database.primary_region and the
// regions' streaming read replicas ("replica-<region>-<n>", n from 1), at FULL scale while the simulator
// runs a fraction f of the messages. No SimGrid: callers pass the simulated time `now` and get back
// latencies to wait (sim/db/sim_stores.h does the waiting). See sim/db/queueing.h for the queueing model.
//
// Load. Every sampled statement counts 1/f at full scale: a transaction brings commit_ms / f seconds of
// work to the primary and rows / f x wal_bytes_per_write bytes of WAL; a read of n statements brings
// n x read_ms / f seconds of work to the server that serves it. Counters (kDbQueries, kDbPrimaryFallbacks)
// are published at full scale, in statements: n per read, one per written row (op="write"). The
// kDbQueryDuration histogram gets one observation per sampled call (the distribution is what it carries;
// its count is the sampled one).
//
// Rates. Each server estimates its full-scale arrival rate over a window that adapts, each tick, to
// hold ~1,000 sampled arrivals (5 s to 120 s), so the estimate's noise (~2%) does not depend on f; its
// fluid backlog grows only on an overload beyond 2.5 sigma of that noise (sim/db/queueing.h says why).
//
// Servers. Each is a MultiServerQueue with c = capacity x service time parallel workers (backend
// connections busy at full throughput):
//   primary:  workers = primary_max_transactions_per_s x commit_ms (e.g. 50,000/s x 2 ms = 100); reads
//             sent to it (fallbacks, from_primary) use read_ms of a worker each;
//   replica:  workers = replica_max_reads_per_s x read_ms (e.g. 50,000/s x 1 ms = 50);
//   WAL:      a FluidQueue of wal_capacity_bytes_per_s on the primary; its backlog delays commits.
// Latency of a call = round trip between the caller's region and the server's (2 x Scenario::latency_ms)
//   + queueing wait (fluid backlog drain + M/M/c wait) + service time. Service times are Gamma with
//   mean commit_ms (a transaction) or n x read_ms (n statements pipelined in one round trip) and
//   coefficient of variation service_time_cv per statement (1: exponential, as M/M/c assumes; 0: fixed),
//   drawn from a std::mt19937_64 seeded with scenario.simulation.seed.
//
// Replication (tick). A transaction's WAL becomes visible at its commit time (arrival + latency) in the
// WalHistory P(t). Each replica, every tick, receives min(P(now - d), received + b x dt) where d is the
// one-way latency from the primary's region and b the link bandwidth (Scenario::bandwidth_gbps) shared
// evenly by the replicas of that region (one walsender stream each), then replays
// min(received, replayed + replica_apply_bytes_per_s x dt). Lag = now - WalHistory::time_of(replayed):
// about d at light load, growing while WAL is produced faster than it is applied or shipped. Each tick
// reports the primary's committed LSN and every replica (LSN, lag, health) to the shared ReplicaRouter
// and sets kDbReplicaLag. Reads route through that router: it decides replica or primary, why, and in
// which region (the caller's when one of its replicas qualifies). pick_replica is followed by end_read
// at once, since at sampled scale the router's outstanding counts (its load tie-break) are ~0 and its
// round-robin cursor, moved by every region's picks, concentrates a region's reads on one replica
// (measured: 1.16 vs 0.00 utilisation within a region). So within the chosen region the model sends the
// read to the least utilised (full-scale) replica among those that certainly qualify: healthy, reported
// lag within replica_max_lag_s, replayed past a live token; a subset that contains the router's
// pick. Replica reports are as fresh as the tick, like a health probe: call tick at least every
// stale_report_s (default 10 s; 1 s is usual).
//
// Failures. set_primary_down: writes and primary reads fail with Unavailable (failover); no WAL is
// produced. set_replica_down: the replica is reported unhealthy at once, stops receiving and replaying,
// and catches up at the apply rate when it returns.
//
// Ownership: owns its servers, router and histories; borrows the MetricsSink (must outlive it).
// Thread-safety: none; one SimGrid engine runs actors one at a time on one thread. Per-call cost O(1)
// plus the router's O(replicas) pick; tick is O(replicas + log history).
// Failure behaviour: bad arguments (unknown region, negative rows) are InvalidArgument; a down server is
// Unavailable; nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ports/metrics_sink.h"
#include "ports/types.h"
#include "replica/read_token.h"
#include "replica/replica_router.h"
#include "scenario/scenario.h"
#include "sim/db/queueing.h"
#include "sim/db/wal_history.h"

namespace chatscale::sim {

struct DatabaseModelOptions {
  RateWindow rate_window;          // time constant of the arrival-rate estimates (adapted each tick)
  double overload_sigmas = 2.5;    // a backlog grows only on an overload this many noise sigmas deep
  double service_time_cv = 1.0;   // coefficient of variation of one statement's service time
  double stale_report_s = 10.0;   // router: a replica not reported for this long leaves rotation
  std::size_t max_wal_records = std::size_t{1} << 18;  // WalHistory size before thinning
};

struct WriteResult {
  double latency_s = 0;  // until the commit is durable and acknowledged at the caller
  Lsn lsn = 0;           // the primary's LSN after this transaction: the caller's read token
};

struct ReadResult {
  double latency_s = 0;
  std::string target;          // the server that served it
  bool used_primary = false;
  FallbackReason reason = FallbackReason::kNone;  // why a replica-eligible read went to the primary
};

// One tick of the model's time series (all rates full scale, per second since the previous tick).
struct DbTickSample {
  double t = 0;
  double dt = 0;
  double primary_tps = 0;          // transactions offered to the primary
  double primary_reads_per_s = 0;  // read statements served by the primary
  double replica_reads_per_s = 0;  // read statements served by all replicas
  double wal_bytes_per_s = 0;      // WAL generated
  double primary_utilisation = 0;  // smoothed busy fraction of the primary's workers (> 1: overload)
  double primary_wait_s = 0;       // mean queueing wait of a commit (backlogs included)
  double max_replica_lag_s = 0;
};

// Totals since construction, full scale.
struct DatabaseTotals {
  double transactions = 0;
  double write_rows = 0;
  double wal_bytes = 0;
  double primary_reads = 0;
  double replica_reads = 0;
  std::array<double, 5> fallbacks{};  // read statements by FallbackReason (index = enum value)
  double failed_writes = 0;           // transactions refused while the primary was down
  double failed_reads = 0;            // read statements refused (their server down)
};

struct ReplicaStatus {
  std::string name;
  int region = 0;
  Lsn received_lsn = 0;
  Lsn replayed_lsn = 0;
  double lag_s = 0;
  double utilisation = 0;
  bool down = false;
};

class DatabaseModel {
 public:
  // InvalidArgument when the sample fraction is not in (0, 1], the scenario has no regions, the
  // primary region is unknown, or a capacity or service time is not positive.
  static Result<std::unique_ptr<DatabaseModel>> create(const Scenario& scenario, double sample_fraction,
                                                       MetricsSink& metrics, DatabaseModelOptions options = {});
  DatabaseModel(const DatabaseModel&) = delete;
  DatabaseModel& operator=(const DatabaseModel&) = delete;

  // One durable transaction of `rows` rows from a caller in `region`.
  Result<WriteResult> write(int region, double rows, double now);
  // `statements` read statements in one round trip from `region`, routed by the token (replica that
  // has replayed it, else the primary) or sent to the primary when `from_primary`.
  Result<ReadResult> read(int region, const ReadToken& token, double now, double statements = 1,
                          bool from_primary = false);
  // Replication step (ship, replay, report lag); the runner calls it every dt (e.g. 1 s).
  void tick(double now);

  void set_primary_down(bool down) { primary_.down = down; }
  // NotFound for an unknown replica.
  Status set_replica_down(std::string_view name, bool down, double now);

  // Topology and settings.
  int region_count() const { return static_cast<int>(region_names_.size()); }
  int primary_region() const { return primary_.region; }
  const std::string& primary_name() const { return primary_.name; }
  double round_trip_s(int a, int b) const;
  const DatabaseSpec& spec() const { return spec_; }
  double sample_fraction() const { return f_; }
  bool primary_down() const { return primary_.down; }
  Lsn primary_lsn() const { return lsn_; }  // the newest LSN handed to a write
  const ReplicaRouter& router() const { return router_; }

  // Aggregates for the report.
  const std::vector<DbTickSample>& samples() const { return samples_; }
  const DatabaseTotals& totals() const { return totals_; }
  // Highest mean transactions/s over any `window_s` of ticks at or after `since`.
  double peak_primary_tps(double window_s = 60, double since = 0) const;
  // Share of read statements among all statements (reads + written rows).
  double read_fraction() const;
  // Percentile q in [0, 1] of the replicas' lag samples (one per replica per tick at or after `since`).
  double replica_lag_percentile(double q, double since = 0) const;
  // One replica's lag samples, aligned with samples(); empty for an unknown name.
  std::vector<float> replica_lag_history(std::string_view name) const;
  std::vector<ReplicaStatus> replicas() const;
  std::size_t wal_history_records() const { return wal_.size(); }

 private:
  struct Primary {
    std::string name;
    int region = 0;
    MultiServerQueue queue;
    FluidQueue wal;
    bool down = false;
  };
  struct Replica {
    std::string name;
    int region = 0;
    double delay_s = 0;          // one-way latency from the primary's region
    double bandwidth_Bps = 0;    // this replica's share of the link
    MultiServerQueue queue;
    double received = 0;         // bytes; kept as double to accumulate partial ticks
    double replayed = 0;
    double lag_s = 0;
    bool down = false;
    std::vector<float> lag_history;
  };
  struct Window {  // full-scale counts since the previous tick
    double transactions = 0, primary_reads = 0, replica_reads = 0, wal_bytes = 0;
  };

  DatabaseModel(const Scenario& scenario, double sample_fraction, MetricsSink& metrics,
                DatabaseModelOptions options, int primary_region);
  void add_replicas(const Scenario& scenario);
  bool valid_region(int region) const { return region >= 0 && region < region_count(); }
  double draw_service(double statements, double mean_s);
  double serve_read(MultiServerQueue& queue, int from, int to, double statements, double now);
  Replica* balance(Replica* pick, Lsn token_lsn, double now);
  Result<ReadResult> read_on_replica(RouteDecision decision, const ReadToken& token, int region,
                                     double statements, double now);
  Result<ReadResult> read_on_primary(RouteDecision decision, int region, double statements, double now);
  void replicate(Replica& replica, double now, double dt);
  Replica* find_replica(std::string_view name);

  const DatabaseSpec spec_;
  const double f_;
  const DatabaseModelOptions options_;
  MetricsSink& metrics_;
  std::vector<std::string> region_names_;
  std::vector<std::vector<double>> latency_s_;  // one-way, [from][to]
  ReplicaRouter router_;
  Primary primary_;
  std::vector<Replica> replicas_;
  std::unordered_map<std::string, std::size_t> replica_index_;
  std::vector<std::vector<std::size_t>> region_replicas_;  // replica indices by region
  WalHistory wal_;
  double wal_produced_ = 0;  // bytes, full scale
  Lsn lsn_ = 0;
  std::mt19937_64 rng_;
  double last_tick_ = 0;
  Window window_;
  DatabaseTotals totals_;
  std::vector<DbTickSample> samples_;
};

}  // namespace chatscale::sim
