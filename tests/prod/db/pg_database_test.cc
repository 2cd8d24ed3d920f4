// PgDatabase and the migrations on real servers (LocalServices: a primary and two streaming replicas):
// concurrent, idempotent, all-or-nothing migrations; read-your-writes with replay paused on both
// replicas (token reads go to the primary, untokened reads may be stale, resumed replicas serve again);
// statement_timeout; broken connections replaced; a bounded pool; queries off the I/O thread.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "prod/db/migrate_command.h"
#include "prod/db/migrations.h"
#include "prod/runtime/task.h"
#include "tests/prod/db/pg_test_support.h"

// libpqxx 6.4 leaks the PGresult that libpq builds for the server's FATAL message when it finds a
// connection killed under it (about 2 KiB per killed connection; ABrokenConnectionIsReplaced kills two
// on purpose; the stack is libpqxx -> PQgetResult -> PQmakeEmptyPGresult, unsymbolised). chatscale
// never calls libpq itself, so leaks allocated inside libpq are suppressed; a leaked pqxx object of
// ours would still be reported (its allocation is in our code).
extern "C" const char* __lsan_default_suppressions() { return "leak:libpq.so.5\n"; }

namespace chatscale::db {
namespace {

using testing::LocalServices;
using testing::LocalServicesEnvironment;

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment());

LocalServices& services() { return LocalServicesEnvironment::services(); }

std::string sql(const std::string& dsn, const std::string& statement) {
  auto r = LocalServices::psql(dsn, statement);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : "<error>";
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A fresh, empty database on the primary, owned by `chatscale`; returns its DSN.
std::string scratch_database() {
  const std::string name = "scratch_" + std::to_string(std::random_device{}());
  sql(services().primary_admin_dsn(), "CREATE DATABASE " + name + " OWNER chatscale");
  return "host=127.0.0.1 port=" + std::to_string(services().port_base()) + " dbname=" + name + " user=chatscale";
}

TEST(MigrationsTest, ConcurrentIdempotentAndAllOrNothing) {
  const std::string dsn = scratch_database();
  EXPECT_EQ(schema_version(dsn).value(), 0);
  // Four processes' worth of migrators at once: the advisory lock lets exactly one apply each file.
  std::vector<Result<int>> results(4, Result<int>(internal_error("not run")));
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&r, &dsn] { r = apply_migrations(dsn); });
  for (auto& t : threads) t.join();
  int applied = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    applied += *r;
  }
  const int newest = embedded_migrations().back().version;
  EXPECT_EQ(applied, static_cast<int>(embedded_migrations().size()));
  EXPECT_EQ(apply_migrations(dsn).value(), 0);
  EXPECT_EQ(schema_version(dsn).value(), newest);
  EXPECT_EQ(sql(dsn, "SELECT count(*) FROM schema_migrations"), std::to_string(embedded_migrations().size()));
  for (const char* table : {"users", "conversations", "messages", "usage", "api_keys"})
    EXPECT_EQ(sql(dsn, std::string("SELECT to_regclass('") + table + "') IS NOT NULL"), "t") << table;

  // A failing migration leaves nothing behind and stops the run.
  std::vector<Migration> more = embedded_migrations();
  more.push_back({newest + 1, "broken", "CREATE TABLE half_done (id int); SELECT 1 / 0;"});
  more.push_back({newest + 2, "after", "CREATE TABLE never_reached (id int);"});
  auto failed = apply_migrations(dsn, more);
  EXPECT_EQ(failed.status().code(), StatusCode::kInternal);
  EXPECT_NE(failed.status().message().find("broken"), std::string::npos) << failed.status().message();
  EXPECT_EQ(sql(dsn, "SELECT to_regclass('half_done') IS NULL AND to_regclass('never_reached') IS NULL"), "t");
  EXPECT_EQ(schema_version(dsn).value(), newest);

  // An applied migration whose file changed is refused.
  std::vector<Migration> edited = embedded_migrations();
  edited[0].sql = "-- edited\n";
  EXPECT_EQ(apply_migrations(dsn, edited).status().code(), StatusCode::kFailedPrecondition);

  // The command: the fixture's serve.yaml names the (already migrated) primary.
  EXPECT_EQ(migrate_command({"--config", services().serve_yaml_path()}), 0);
  EXPECT_EQ(migrate_command({"--dsn", scratch_database()}), 0);
}

// Both replicas in rotation with a replayed LSN of at least `lsn`.
bool replicas_caught_up(PgDatabase& db, Lsn lsn) {
  db.poll_now();
  auto views = db.router().replicas(unix_now());
  if (views.size() != 2) return false;
  for (const auto& v : views)
    if (v.state != ReplicaState::kInRotation || v.replayed_lsn < lsn) return false;
  return true;
}

TEST(PgDatabaseTest, ReadYourWritesWhileReplicasArePaused) {
  PgConfig config = test::local_config(services());
  config.router.max_lag_seconds = 3600;  // paused replicas stay in rotation: only the token decides
  test::PgFixture f(config);
  ASSERT_TRUE(f.ok());
  User before;
  before.email = test::unique_email("before");
  auto first = f.stores->create_user(before);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(test::poll_until([&] { return replicas_caught_up(*f.db, first->lsn); }));

  for (int i = 0; i < LocalServices::kReplicas; ++i) {
    sql(services().replica_admin_dsn(i), "SELECT pg_wal_replay_pause()");
    ASSERT_TRUE(test::poll_until(
        [&] { return sql(services().replica_admin_dsn(i), "SELECT pg_get_wal_replay_pause_state()") == "paused"; }));
  }
  User after;
  after.email = test::unique_email("after");
  auto second = f.stores->create_user(after);
  ASSERT_TRUE(second.is_ok());
  ASSERT_GT(second->lsn, first->lsn);

  const double fallbacks = f.metrics.value(MetricId::kDbPrimaryFallbacks, {"token_not_replayed"});
  auto with_token = f.stores->find_user_by_email(after.email, ReadOptions{second->lsn, unix_now(), false});
  ASSERT_TRUE(with_token.is_ok()) << with_token.status().to_string();
  EXPECT_EQ(PgDatabase::last_read_server(), "primary");
  EXPECT_EQ(f.metrics.value(MetricId::kDbPrimaryFallbacks, {"token_not_replayed"}), fallbacks + 1);

  // Without the token a replica serves the read, and it has not replayed the write.
  auto stale = f.stores->find_user_by_email(after.email, ReadOptions{});
  EXPECT_EQ(stale.status().code(), StatusCode::kNotFound);
  EXPECT_NE(PgDatabase::last_read_server(), "primary");
  // The older write is there: the replica is behind, not broken.
  EXPECT_TRUE(f.stores->find_user_by_email(before.email, ReadOptions{}).is_ok());
  // The paused replicas fall behind and the gauge shows it.
  EXPECT_TRUE(test::poll_until([&] {
    return f.metrics.value(MetricId::kDbReplicaLag, {"replica1"}) > 0 &&
           f.metrics.value(MetricId::kDbReplicaLag, {"replica2"}) > 0;
  }));

  for (int i = 0; i < LocalServices::kReplicas; ++i) sql(services().replica_admin_dsn(i), "SELECT pg_wal_replay_resume()");
  ASSERT_TRUE(test::poll_until([&] { return replicas_caught_up(*f.db, second->lsn); }));
  auto resumed = f.stores->find_user_by_email(after.email, ReadOptions{second->lsn, unix_now(), false});
  ASSERT_TRUE(resumed.is_ok()) << resumed.status().to_string();
  EXPECT_NE(PgDatabase::last_read_server(), "primary");
  EXPECT_EQ(resumed->id, second->value.id);
}

TEST(PgDatabaseTest, StatementTimeoutEndsLongQueries) {
  PgConfig config = test::local_config(services());
  config.statement_timeout_ms = 200;
  test::PgFixture f(config);
  ASSERT_TRUE(f.ok());
  auto sleep_read = [&](const ReadOptions& options) {
    return f.db->read(options, "sleep", [](pqxx::transaction_base& tx) {
      tx.exec("SELECT pg_sleep(30)");
      return Status::ok();
    });
  };
  EXPECT_EQ(sleep_read(ReadOptions{0, 0, true}).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(sleep_read(ReadOptions{}).code(), StatusCode::kDeadlineExceeded);  // on a replica
  auto write = f.db->write("sleep", [](pqxx::transaction_base& tx) {
    tx.exec("SELECT pg_sleep(30)");
    return Status::ok();
  });
  EXPECT_EQ(write.status().code(), StatusCode::kDeadlineExceeded);
  // The connections are still good.
  Status fine = f.db->read(ReadOptions{0, 0, true}, "select", [](pqxx::transaction_base& tx) {
    tx.exec("SELECT 1");
    return Status::ok();
  });
  EXPECT_TRUE(fine.is_ok()) << fine.to_string();
}

int backend_pid(PgDatabase& db) {
  int pid = 0;
  Status s = db.read(ReadOptions{0, 0, true}, "pid", [&](pqxx::transaction_base& tx) {
    pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
    return Status::ok();
  });
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return pid;
}

TEST(PgDatabaseTest, ABrokenConnectionIsReplaced) {
  PgConfig config = test::local_config(services());
  config.pool_size = 1;
  test::PgFixture f(config);
  ASSERT_TRUE(f.ok());
  const int pid = backend_pid(*f.db);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(backend_pid(*f.db), pid);  // pooled: the same connection
  sql(services().primary_admin_dsn(), "SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  ASSERT_TRUE(test::poll_until([&] {
    return sql(services().primary_admin_dsn(),
               "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == "0";
  }));
  // The pooled connection is dead; the next query finds out, reconnects and succeeds.
  const int fresh = backend_pid(*f.db);
  EXPECT_GT(fresh, 0);
  EXPECT_NE(fresh, pid);
  // Writes too, and they report a durable LSN.
  sql(services().primary_admin_dsn(), "SELECT pg_terminate_backend(" + std::to_string(fresh) + ")");
  ASSERT_TRUE(test::poll_until([&] {
    return sql(services().primary_admin_dsn(),
               "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(fresh) + "") == "0";
  }));
  User u;
  u.email = test::unique_email("reconnect");
  auto w = f.stores->create_user(u);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  EXPECT_GT(w->lsn, 0u);
}

TEST(PgDatabaseTest, PoolIsBoundedAndUnreachablePrimaryFailsOpen) {
  PgConfig config = test::local_config(services());
  config.pool_size = 1;
  config.acquire_timeout_ms = 100;
  test::PgFixture f(config);
  ASSERT_TRUE(f.ok());
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    Status s = f.db->read(ReadOptions{0, 0, true}, "hold", [&](pqxx::transaction_base&) {
      holding = true;
      test::poll_until([&] { return release.load(); });
      return Status::ok();
    });
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  });
  ASSERT_TRUE(test::poll_until([&] { return holding.load(); }));
  Status busy = f.db->read(ReadOptions{0, 0, true}, "second", [](pqxx::transaction_base&) { return Status::ok(); });
  EXPECT_EQ(busy.code(), StatusCode::kUnavailable);
  EXPECT_NE(busy.message().find("no free database connection"), std::string::npos) << busy.message();
  release = true;
  holder.join();
  EXPECT_TRUE(f.db->read(ReadOptions{0, 0, true}, "third", [](pqxx::transaction_base&) { return Status::ok(); }).is_ok());

  PgConfig nowhere = config;
  nowhere.primary.dsn = "host=127.0.0.1 port=1 dbname=chatscale user=chatscale";
  BlockingPool pool(1);
  RealClock clock;
  auto opened = PgDatabase::open(nowhere, pool, clock, nullptr);
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  PgConfig bad = config;
  bad.pool_size = 0;
  EXPECT_EQ(PgDatabase::open(bad, pool, clock, nullptr).status().code(), StatusCode::kInvalidArgument);
}

// One I/O thread, two tasks: while one task's query waits in the database, the other runs. A query
// that blocked the I/O thread would never see `release` set and would give up after 30 s.
TEST(PgDatabaseTest, QueriesDoNotBlockTheIoThread) {
  test::PgFixture f(test::local_config(services()));
  ASSERT_TRUE(f.ok());
  boost::asio::io_context ioc;
  std::atomic<bool> in_query{false};
  std::atomic<bool> release{false};
  bool released_in_time = false;
  Status status = internal_error("not run");
  spawn_task(ioc, [&](TaskYield) {
    status = f.db->read(ReadOptions{0, 0, true}, "wait", [&](pqxx::transaction_base& tx) {
      in_query = true;
      released_in_time = test::poll_until([&] { return release.load(); });
      tx.exec("SELECT 1");
      return Status::ok();
    });
  });
  spawn_task(ioc, [&](TaskYield) {
    while (!in_query) RealClock().sleep_for(0.005);  // suspends this task, not the thread
    release = true;
  });
  ioc.run();
  EXPECT_TRUE(released_in_time);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
}

}  // namespace
}  // namespace chatscale::db
