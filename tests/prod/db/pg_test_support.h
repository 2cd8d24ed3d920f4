// Test support for prod/db: a PgDatabase and PgStores over the LocalServices of the test binary
// (tests/prod/support/local_services.h), with a fixed content key, and polling helpers.
// Thread-safety: one PgFixture per test; its stores may be used from many threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "prod/db/pg_database.h"
#include "prod/db/pg_stores.h"
#include "prod/runtime/blocking_pool.h"
#include "prod/runtime/real_clock.h"
#include "testing/memory_metrics.h"
#include "tests/prod/support/local_services.h"

namespace chatscale::db::test {

// An e-mail address no other test uses.
inline std::string unique_email(const std::string& who) {
  static std::mt19937_64 rng(std::random_device{}());
  static std::mutex mu;
  std::lock_guard lock(mu);
  return who + "-" + std::to_string(rng()) + "@example.com";
}

inline ContentKey test_key(const std::string& id = "k1", char fill = 'k') { return ContentKey{id, std::string(32, fill)}; }

// The PgConfig of the running LocalServices: the primary and both replicas, polled every 50 ms.
inline PgConfig local_config(const testing::LocalServices& s) {
  PgConfig config;
  config.primary = PgServerConfig{"primary", s.primary_dsn(), "local"};
  for (int i = 0; i < testing::LocalServices::kReplicas; ++i)
    config.replicas.push_back(PgServerConfig{"replica" + std::to_string(i + 1), s.replica_dsn(i), "local"});
  config.pool_size = 4;
  config.statement_timeout_ms = 5000;
  config.replica_poll_s = 0.05;
  config.caller_region = "local";
  return config;
}

struct PgFixture {
  explicit PgFixture(PgConfig config, std::vector<ContentKey> keys = {test_key()}) {
    auto opened = PgDatabase::open(config, pool, clock, &metrics);
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    if (!opened.is_ok()) return;
    db = std::move(opened).value();
    auto cipher = ContentCipher::create(std::move(keys));
    EXPECT_TRUE(cipher.is_ok()) << cipher.status().to_string();
    if (!cipher.is_ok()) return;
    auto created = PgStores::create(*db, std::move(cipher).value());
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    if (created.is_ok()) stores = std::move(created).value();
  }
  bool ok() const { return stores != nullptr; }

  BlockingPool pool{4};
  RealClock clock;
  testing::MemoryMetrics metrics;
  std::unique_ptr<PgDatabase> db;
  std::unique_ptr<PgStores> stores;
};

// Polls `done` every 10 ms until it holds or 30 s have passed; returns its last answer.
inline bool poll_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace chatscale::db::test
