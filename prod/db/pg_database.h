// PgDatabase: the PostgreSQL topology of one service process: a primary and any number of streaming
// read replicas, a bounded pool of libpqxx connections per server, and a poller that tells a
// ReplicaRouter (shared/replica/replica_router.h) how far each replica has replayed, so reads go to a
// replica that has the caller's writes (read-your-writes tokens) and writes go to the primary.
//
// Reads: read(options, op, fn) picks the server (the primary when options.from_primary; otherwise
// router.pick_replica with ReadToken{options.min_lsn, options.token_issued_at}, the configured caller
// region and clock.now(), falling back to the primary with a reason counted in
// chatscale_db_primary_fallbacks_total{reason}), runs fn in a nontransaction there, then end_read. A
// read that fails on a replica with Unavailable (lost connection, recovery conflict, its pool busy)
// runs once more on the primary. Writes: write(op, fn) runs fn in a transaction on the primary (synchronous_commit = on, so
// the commit is durable before it returns), then reads pg_current_wal_lsn() on the same connection: the
// LSN returned is at or past the commit record, so a replica that replayed it sees the commit (should
// that connection fail after the commit, the LSN is read on another one; should that fail too, the
// write is reported Unavailable although committed: callers retry with their idempotency keys). fn
// returning an error rolls the transaction back and that error is returned.
//
// Every query runs inside BlockingPool::run, so a task calling read/write is suspended, never its I/O
// thread. Connections: at most pool_size per server, opened on demand with statement_timeout (and on
// the primary synchronous_commit = on) set, and every registered prepared statement; a connection that
// broke is dropped, and a query that failed on a broken connection before its commit is retried once on
// a fresh one. Waiting for a free connection is bounded by acquire_timeout_ms (then Unavailable).
//
// Poller: its own thread, every replica_poll_s; on dedicated connections it reads the primary's
// pg_current_wal_lsn() and each replica's pg_last_wal_replay_lsn() and replay lag (now() -
// pg_last_xact_replay_timestamp()). The lag is bounded by the LSN evidence: the router caps it when a
// replica has replayed the primary's last reported LSN (an idle primary does not make caught-up
// replicas look late), and the poller's recent history of the primary's LSN bounds it otherwise (a
// replica a few milliseconds behind after a long idle spell is not taken for minutes late). It reports
// to the router (a replica that fails to answer, or is no longer in recovery, is reported unhealthy)
// and sets chatscale_db_replica_lag_seconds{replica}. Known limit: the servers are polled one after
// another, so a replica that black-holes connections delays the others' reports by connect_timeout_s.
//
// Ownership: owns its connections, router and poller thread; borrows the BlockingPool, Clock and
// MetricsSink (which must outlive it). The destructor stops the poller and closes every connection; no
// read or write may be in flight then. Thread-safety: read/write/prepare/poll_now from any number of
// tasks and threads at once. Failure: errors are values (libpqxx exceptions never escape; see
// pg_error.h for the mapping): connection problems Unavailable, statement timeout DeadlineExceeded.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pqxx/connection>
#include <pqxx/transaction_base>

#include "core/status.h"
#include "ports/clock.h"
#include "ports/metrics_sink.h"
#include "ports/stores.h"
#include "prod/runtime/blocking_pool.h"
#include "replica/replica_router.h"

namespace chatscale::db {

struct PgServerConfig {
  std::string name;    // unique; the router's and the metrics' label
  std::string dsn;     // libpq key=value string or postgresql:// URI
  std::string region;  // reads prefer replicas in PgConfig::caller_region
};

struct PgConfig {
  PgServerConfig primary;
  std::vector<PgServerConfig> replicas;
  int pool_size = 8;                 // connections per server, at most
  int statement_timeout_ms = 5000;   // set on every connection; 0 disables it
  int acquire_timeout_ms = 5000;     // waiting for a free pooled connection
  int connect_timeout_s = 5;         // libpq connect_timeout (added to the DSN unless it has one)
  double replica_poll_s = 0.2;       // how often the poller reads replay LSNs and lag
  ReplicaRouterOptions router;       // max lag, token TTL, staleness
  std::string caller_region;         // this process's region (for the router's preference)
};

// InvalidArgument naming the field when a config cannot work (empty primary DSN or names, duplicate
// names, pool_size < 1, negative timeouts, replica_poll_s not positive, bad router options).
Status validate(const PgConfig& config);

// "16/B374D848" -> 0x16B374D848. InvalidArgument for anything else.
Result<Lsn> parse_lsn(std::string_view text);
std::string format_lsn(Lsn lsn);

class PgDatabase {
 public:
  using ReadFn = std::function<Status(pqxx::transaction_base&)>;
  using WriteFn = std::function<Status(pqxx::transaction_base&)>;

  // Validates the config, connects once to the primary (Unavailable when it cannot), registers the
  // servers with the router, polls once and starts the poller. Replicas that are down do not fail
  // open: they are out of rotation until they answer.
  static Result<std::unique_ptr<PgDatabase>> open(const PgConfig& config, BlockingPool& pool, Clock& clock,
                                                  MetricsSink* metrics);
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  // Declares a prepared statement for every connection (current ones prepare it on their next use).
  // Register before the first use; the same name with other SQL is InvalidArgument.
  Status prepare(const std::string& name, const std::string& sql);

  Status read(const ReadOptions& options, std::string_view operation, const ReadFn& fn);
  Result<Lsn> write(std::string_view operation, const WriteFn& fn);

  // One poll now, on the calling thread (tests; the poller does the same on its own).
  void poll_now();
  ReplicaRouter& router() { return *router_; }
  const PgConfig& config() const { return config_; }
  // The server the last read of this thread ran on (tests and diagnostics).
  static std::string last_read_server();

 private:
  class ServerPool;  // one server's connection pool (pg_database.cc)

  PgDatabase(PgConfig config, BlockingPool& pool, Clock& clock, MetricsSink* metrics);
  ServerPool* server(std::string_view name);
  Status read_on(ServerPool& server, std::string_view operation, const ReadFn& fn);
  void poll_loop();
  void poll_primary(double now);
  void poll_replica(std::size_t index, double now);
  double lag_bound(Lsn replayed, double now) const;

  static constexpr double kUnknownLag = 1e9;

  const PgConfig config_;
  BlockingPool& pool_;
  Clock& clock_;
  MetricsSink* metrics_;  // may be null
  std::unique_ptr<ReplicaRouter> router_;

  std::shared_ptr<struct StatementRegistry> statements_;
  std::unique_ptr<ServerPool> primary_;
  std::vector<std::unique_ptr<ServerPool>> replicas_;

  // Poller state: dedicated connections (index 0 the primary, then the replicas), touched only by the
  // poll (one at a time under poll_mu_).
  std::mutex poll_mu_;
  std::vector<std::unique_ptr<pqxx::connection>> poll_conns_;
  std::deque<std::pair<double, Lsn>> primary_history_;  // (time, primary LSN) of recent polls, oldest first
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread poller_;
};

}  // namespace chatscale::db
