#include "ratelimit/memory_rate_limit_store.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "testing/manual_clock.h"

namespace chatscale {
namespace {

// Reads a key's blob through update() without changing it.
std::string read(MemoryRateLimitStore& store, const std::string& key) {
  std::string seen;
  EXPECT_TRUE(store.update(key, 1, [&](std::string& blob) { seen = blob; }).is_ok());
  return seen;
}

Status write(MemoryRateLimitStore& store, const std::string& key, const std::string& value, double ttl) {
  return store.update(key, ttl, [&](std::string& blob) { blob = value; });
}

TEST(MemoryRateLimitStore, StoresBlobsPerKey) {
  testing::ManualClock clock;
  MemoryRateLimitStore store(clock);
  EXPECT_EQ(read(store, "a"), "");
  EXPECT_EQ(store.size(), 0u) << "reading an absent key leaves nothing behind";
  ASSERT_TRUE(write(store, "a", "one", 10).is_ok());
  ASSERT_TRUE(write(store, "b", "two", 10).is_ok());
  EXPECT_EQ(read(store, "a"), "one");
  EXPECT_EQ(read(store, "b"), "two");
  EXPECT_EQ(store.size(), 2u);
  ASSERT_TRUE(write(store, "a", "", 10).is_ok());
  EXPECT_EQ(store.size(), 1u) << "an empty blob deletes the key";
}

TEST(MemoryRateLimitStore, EntriesExpireLazilyAndBySweep) {
  testing::ManualClock clock(100);
  MemoryRateLimitStore store(clock);
  ASSERT_TRUE(write(store, "short", "s", 5).is_ok());
  ASSERT_TRUE(write(store, "long", "l", 50).is_ok());
  clock.advance(4.9);
  EXPECT_EQ(read(store, "short"), "s");  // read() rewrites with a 1 s TTL from now
  clock.advance(1.0);
  EXPECT_EQ(read(store, "short"), "") << "expired entries read as absent";
  ASSERT_TRUE(write(store, "short", "s2", 5).is_ok());
  clock.advance(10);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.sweep(), 1u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(read(store, "long"), "l");
}

TEST(MemoryRateLimitStore, GrowthTriggersIncrementalSweeps) {
  testing::ManualClock clock(0);
  MemoryRateLimitStore store(clock, 1);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(write(store, "old" + std::to_string(i), "x", 1).is_ok());
  clock.advance(2);
  // Rewriting one key does not grow the stripe, so nothing is swept (and nothing is paid).
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(write(store, "live", "y", 100).is_ok());
  EXPECT_EQ(store.size(), 501u);
  // New keys double the stripe, which starts passes that reclaim the expired ones.
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(write(store, "new" + std::to_string(i), "z", 100).is_ok());
  EXPECT_EQ(store.size(), 2001u);
  EXPECT_EQ(store.sweep(), 0u);
}

TEST(MemoryRateLimitStore, ThrowingUpdateLeavesTheBlobAlone) {
  testing::ManualClock clock;
  MemoryRateLimitStore store(clock);
  ASSERT_TRUE(write(store, "k", "before", 10).is_ok());
  Status s = store.update("k", 10, [](std::string& blob) {
    blob = "half-written";
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(read(store, "k"), "before");
  Status fresh = store.update("new", 10, [](std::string&) { throw 42; });
  EXPECT_EQ(fresh.code(), StatusCode::kInternal);
  EXPECT_EQ(store.size(), 1u);
}

TEST(MemoryRateLimitStore, RejectsBadTtl) {
  testing::ManualClock clock;
  MemoryRateLimitStore store(clock);
  EXPECT_EQ(write(store, "k", "v", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write(store, "k", "v", -1).code(), StatusCode::kInvalidArgument);
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(write(store, "k", "v", nan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.size(), 0u);
}

TEST(MemoryRateLimitStore, ReadModifyWriteIsAtomicAcrossThreads) {
  testing::ManualClock clock;
  MemoryRateLimitStore store(clock, 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 1000; ++i) {
        std::string key = "counter" + std::to_string((i + t) % 3);
        Status s = store.update(key, 60, [](std::string& blob) {
          int next = blob.empty() ? 1 : std::stoi(blob) + 1;
          std::this_thread::yield();  // widens the window a missing lock would leave open
          blob = std::to_string(next);
        });
        ASSERT_TRUE(s.is_ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  int total = 0;
  for (int k = 0; k < 3; ++k) total += std::stoi(read(store, "counter" + std::to_string(k)));
  EXPECT_EQ(total, 8000);
}

}  // namespace
}  // namespace chatscale
