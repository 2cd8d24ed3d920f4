#include "prod/db/pg_database.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <pqxx/pqxx>
#include <set>

#include "prod/db/pg_error.h"

namespace chatscale::db {

struct StatementRegistry {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> statements;  // append-only

  std::vector<std::pair<std::string, std::string>> from(std::size_t index) {
    std::lock_guard lock(mu);
    if (index >= statements.size()) return {};
    return {statements.begin() + static_cast<std::ptrdiff_t>(index), statements.end()};
  }
};

namespace {

thread_local std::string t_last_read_server;

bool has_key(const std::string& dsn, std::string_view key) { return dsn.find(key) != std::string::npos; }

// The DSN with connect_timeout added unless it already names one.
std::string with_connect_timeout(const std::string& dsn, int seconds) {
  if (seconds <= 0 || has_key(dsn, "connect_timeout")) return dsn;
  const std::string value = std::to_string(seconds < 2 ? 2 : seconds);  // libpq's minimum is 2
  if (dsn.find("://") != std::string::npos)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + value;
  return dsn + (dsn.empty() ? "" : " ") + "connect_timeout=" + value;
}

}  // namespace

// ---- one server's pool -------------------------------------------------------------------------------

class PgDatabase::ServerPool {
 public:
  struct Conn {
    std::unique_ptr<pqxx::connection> conn;
    std::size_t prepared = 0;  // statements of the registry prepared on it
    bool reused = false;       // came from the idle list (may have broken while idle)
  };

  ServerPool(PgServerConfig server, bool primary, const PgConfig& config, std::shared_ptr<StatementRegistry> registry)
      : server_(std::move(server)),
        dsn_(with_connect_timeout(server_.dsn, config.connect_timeout_s)),
        primary_(primary),
        size_(config.pool_size),
        statement_timeout_ms_(config.statement_timeout_ms),
        acquire_timeout_s_(config.acquire_timeout_ms / 1000.0),
        registry_(std::move(registry)) {}

  const PgServerConfig& server() const { return server_; }

  // A fresh connection with the session settings of this pool (throws on failure).
  std::unique_ptr<pqxx::connection> connect() const {
    auto conn = std::make_unique<pqxx::connection>(dsn_);
    pqxx::nontransaction tx(*conn);
    tx.exec("SET statement_timeout = " + std::to_string(statement_timeout_ms_));
    if (primary_) tx.exec("SET synchronous_commit = on");
    return conn;
  }

  // Runs fn(connection) on a pooled connection, on this thread. A pqxx::broken_connection thrown by fn
  // on a connection that had been idle in the pool is retried once on a fresh connection (fn must not
  // have committed anything when it throws that; in_doubt_error is never retried).
  Status run(std::string_view operation, const std::function<Status(pqxx::connection&)>& fn) {
    for (int attempt = 0;; ++attempt) {
      auto acquired = acquire(operation);
      if (!acquired.is_ok()) return acquired.status();
      std::unique_ptr<Conn> c = std::move(*acquired);
      const bool reused = c->reused;
      try {
        prepare_missing(*c);
        Status s = fn(*c->conn);
        release(std::move(c), false);
        return s;
      } catch (const pqxx::in_doubt_error& e) {
        release(std::move(c), true);
        return pg_status(e, operation);
      } catch (const pqxx::broken_connection& e) {
        release(std::move(c), true);
        if (reused && attempt == 0) continue;
        return pg_status(e, operation);
      } catch (const std::exception& e) {
        const bool broken = !c->conn->is_open();
        release(std::move(c), broken);
        return pg_status(e, operation);
      }
    }
  }

 private:
  Result<std::unique_ptr<Conn>> acquire(std::string_view operation) {
    {
      std::unique_lock lock(mu_);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(acquire_timeout_s_);
      while (idle_.empty() && open_ >= size_) {
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_)
          return unavailable(std::string(operation) + ": no free database connection to " + server_.name +
                             " (pool of " + std::to_string(size_) + " busy)");
      }
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        c->reused = true;
        return c;
      }
      ++open_;  // a slot for the connection opened below, outside the lock
    }
    try {
      auto c = std::make_unique<Conn>();
      c->conn = connect();
      return c;
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      --open_;
      cv_.notify_one();
      Status s = pg_status(e, operation);
      return unavailable(s.message() + " (" + server_.name + ")");
    }
  }

  void release(std::unique_ptr<Conn> c, bool broken) {
    std::lock_guard lock(mu_);
    if (broken || !c->conn->is_open()) {
      --open_;
    } else {
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  void prepare_missing(Conn& c) {
    for (const auto& [name, sql] : registry_->from(c.prepared)) {
      c.conn->prepare(name, sql);
      ++c.prepared;
    }
  }

  const PgServerConfig server_;
  const std::string dsn_;
  const bool primary_;
  const int size_;
  const int statement_timeout_ms_;
  const double acquire_timeout_s_;
  std::shared_ptr<StatementRegistry> registry_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;  // idle + in use + being opened
};

// ---- config and LSNs ---------------------------------------------------------------------------------

Status validate(const PgConfig& config) {
  if (config.primary.dsn.empty()) return invalid_argument("database.primary.dsn: must not be empty");
  std::set<std::string> names;
  auto check = [&](const PgServerConfig& s, const std::string& field) -> Status {
    if (s.name.empty()) return invalid_argument(field + ".name: must not be empty");
    if (s.dsn.empty()) return invalid_argument(field + ".dsn: must not be empty");
    if (!names.insert(s.name).second) return invalid_argument(field + ".name: \"" + s.name + "\" is used twice");
    return Status::ok();
  };
  CS_RETURN_IF_ERROR(check(config.primary, "database.primary"));
  for (std::size_t i = 0; i < config.replicas.size(); ++i)
    CS_RETURN_IF_ERROR(check(config.replicas[i], "database.replicas[" + std::to_string(i) + "]"));
  if (config.pool_size < 1) return invalid_argument("database.pool_size: must be at least 1");
  if (config.statement_timeout_ms < 0) return invalid_argument("database.statement_timeout_ms: must be >= 0");
  if (config.acquire_timeout_ms < 0) return invalid_argument("database.acquire_timeout_ms: must be >= 0");
  if (!(config.replica_poll_s > 0) || !std::isfinite(config.replica_poll_s))
    return invalid_argument("database.replica_poll_ms: must be positive");
  return chatscale::validate(config.router);
}

Result<Lsn> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 8 || text.size() - slash - 1 < 1 ||
      text.size() - slash - 1 > 8)
    return invalid_argument("malformed LSN");
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto parse = [](std::string_view part, std::uint64_t& out) {
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out, 16);
    return ec == std::errc() && ptr == part.data() + part.size();
  };
  if (!parse(text.substr(0, slash), hi) || !parse(text.substr(slash + 1), lo)) return invalid_argument("malformed LSN");
  return (hi << 32) | lo;
}

std::string format_lsn(Lsn lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xFFFFFFFFu));
  return buf;
}

// ---- the database ------------------------------------------------------------------------------------

PgDatabase::PgDatabase(PgConfig config, BlockingPool& pool, Clock& clock, MetricsSink* metrics)
    : config_(std::move(config)),
      pool_(pool),
      clock_(clock),
      metrics_(metrics),
      router_(std::make_unique<ReplicaRouter>(config_.router)),
      statements_(std::make_shared<StatementRegistry>()) {
  primary_ = std::make_unique<ServerPool>(config_.primary, true, config_, statements_);
  for (const auto& r : config_.replicas) replicas_.push_back(std::make_unique<ServerPool>(r, false, config_, statements_));
  poll_conns_.resize(1 + replicas_.size());
}

Result<std::unique_ptr<PgDatabase>> PgDatabase::open(const PgConfig& config, BlockingPool& pool, Clock& clock,
                                                     MetricsSink* metrics) {
  CS_RETURN_IF_ERROR(validate(config));
  std::unique_ptr<PgDatabase> db(new PgDatabase(config, pool, clock, metrics));
  CS_RETURN_IF_ERROR(db->router_->set_primary(config.primary.name, config.primary.region));
  for (const auto& r : config.replicas) CS_RETURN_IF_ERROR(db->router_->add_replica(r.name, r.region));
  // The primary must answer now; replicas may come later.
  Status reachable = pool.run([&] {
    return db->primary_->run("open", [](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      tx.exec("SELECT 1");
      return Status::ok();
    });
  });
  CS_RETURN_IF_ERROR(reachable);
  pool.run([&] { db->poll_now(); });
  db->poller_ = std::thread([raw = db.get()] { raw->poll_loop(); });
  return db;
}

PgDatabase::~PgDatabase() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

Status PgDatabase::prepare(const std::string& name, const std::string& sql) {
  std::lock_guard lock(statements_->mu);
  for (const auto& [n, s] : statements_->statements) {
    if (n != name) continue;
    if (s == sql) return Status::ok();
    return invalid_argument("prepared statement \"" + name + "\" is already declared with other SQL");
  }
  statements_->statements.emplace_back(name, sql);
  return Status::ok();
}

std::string PgDatabase::last_read_server() { return t_last_read_server; }

PgDatabase::ServerPool* PgDatabase::server(std::string_view name) {
  for (auto& r : replicas_)
    if (r->server().name == name) return r.get();
  return primary_.get();
}

Status PgDatabase::read_on(ServerPool& server, std::string_view operation, const ReadFn& fn) {
  t_last_read_server = server.server().name;
  return pool_.run([&] {
    return server.run(operation, [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return fn(tx);
    });
  });
}

Status PgDatabase::read(const ReadOptions& options, std::string_view operation, const ReadFn& fn) {
  if (options.from_primary) return read_on(*primary_, operation, fn);
  const RouteDecision decision =
      router_->pick_replica(ReadToken{options.min_lsn, options.token_issued_at}, config_.caller_region, clock_.now());
  if (decision.use_primary && metrics_ != nullptr)
    metrics_->add(MetricId::kDbPrimaryFallbacks, {fallback_reason_name(decision.reason)}, 1);
  ServerPool& target = decision.use_primary ? *primary_ : *server(decision.target);
  Status s = read_on(target, operation, fn);
  (void)router_->end_read(decision.target);
  // A replica that failed (lost, restarting, recovery conflict): the primary has everything it had.
  if (!decision.use_primary && s.code() == StatusCode::kUnavailable) s = read_on(*primary_, operation, fn);
  return s;
}

Result<Lsn> PgDatabase::write(std::string_view operation, const WriteFn& fn) {
  Lsn lsn = 0;
  bool committed = false;
  auto read_lsn = [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    CS_ASSIGN_OR_RETURN(lsn, parse_lsn(tx.exec("SELECT pg_current_wal_lsn()")[0][0].c_str()));
    return Status::ok();
  };
  Status s = pool_.run([&] {
    return primary_->run(operation, [&](pqxx::connection& c) -> Status {
      {
        pqxx::work tx(c);
        CS_RETURN_IF_ERROR(fn(tx));
        tx.commit();
      }
      committed = true;
      // Nothing after the commit may throw out of here: ServerPool::run would retry the transaction.
      try {
        return read_lsn(c);
      } catch (const std::exception& e) {
        return pg_status(e, operation);
      }
    });
  });
  if (s.is_ok() || !committed) return s.is_ok() ? Result<Lsn>(lsn) : Result<Lsn>(s);
  // Committed, but the LSN read failed: any session's pg_current_wal_lsn() is past a commit that returned.
  Status again = pool_.run([&] { return primary_->run(operation, read_lsn); });
  if (!again.is_ok()) return unavailable(std::string(operation) + ": committed, but its LSN could not be read");
  return lsn;
}

// ---- poller ------------------------------------------------------------------------------------------

void PgDatabase::poll_loop() {
  std::unique_lock lock(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::duration<double>(config_.replica_poll_s), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    poll_now();
    lock.lock();
  }
}

void PgDatabase::poll_now() {
  std::lock_guard lock(poll_mu_);
  poll_primary(clock_.now());
  for (std::size_t i = 0; i < replicas_.size(); ++i) poll_replica(i, clock_.now());
}

// now() - pg_last_xact_replay_timestamp() overstates the lag of a replica that is a few milliseconds
// behind a primary that was idle for a while (the last replayed transaction is old). The primary's LSN
// history bounds it: a replica that has replayed the LSN the primary had at time t misses only WAL
// written after t, so it is at most now - t behind.
double PgDatabase::lag_bound(Lsn replayed, double now) const {
  double bound = kUnknownLag;
  for (const auto& [at, lsn] : primary_history_)
    if (lsn <= replayed) bound = std::max(0.0, now - at);
  return bound;
}

void PgDatabase::poll_primary(double now) {
  auto& conn = poll_conns_[0];
  try {
    if (!conn || !conn->is_open()) conn = primary_->connect();
    pqxx::nontransaction tx(*conn);
    auto lsn = parse_lsn(tx.exec("SELECT pg_current_wal_lsn()")[0][0].c_str());
    if (lsn.is_ok()) {
      (void)router_->report_primary_lsn(*lsn, now);
      primary_history_.emplace_back(now, *lsn);
      // Enough history to bound any lag the router still cares about.
      const double keep = 2 * config_.router.max_lag_seconds + 2 * config_.replica_poll_s + 1;
      while (primary_history_.size() > 2 && primary_history_.front().first < now - keep) primary_history_.pop_front();
    }
  } catch (const std::exception&) {
    conn.reset();  // the next poll reconnects; writes report the primary's trouble themselves
  }
}

void PgDatabase::poll_replica(std::size_t index, double now) {
  auto& conn = poll_conns_[index + 1];
  const std::string& name = replicas_[index]->server().name;
  try {
    if (!conn || !conn->is_open()) conn = replicas_[index]->connect();
    pqxx::nontransaction tx(*conn);
    auto row = tx.exec(
        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),"
        " extract(epoch FROM now() - pg_last_xact_replay_timestamp())")[0];
    const bool standby = row[0].as<bool>();
    auto lsn = row[1].is_null() ? Result<Lsn>(Lsn{0}) : parse_lsn(row[1].c_str());
    // No transaction replayed since the standby started: the LSN evidence alone decides.
    const double reported = row[2].is_null() ? kUnknownLag : row[2].as<double>();
    if (!standby || !lsn.is_ok()) {
      (void)router_->report_replica(name, 0, 0, false, now);  // promoted or nonsense: not a replica to read
    } else {
      (void)router_->report_replica(name, *lsn, std::min(reported, lag_bound(*lsn, now)), true, now);
    }
  } catch (const std::exception&) {
    conn.reset();
    (void)router_->report_replica(name, 0, 0, false, now);
  }
  if (metrics_ == nullptr) return;
  for (const auto& view : router_->replicas(now))
    if (view.name == name) metrics_->set(MetricId::kDbReplicaLag, {name}, view.lag_seconds);
}

}  // namespace chatscale::db
