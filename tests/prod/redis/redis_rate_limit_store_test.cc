// RedisRateLimitStore against a real redis-server started by the test: blobs round-trip and expire,
// concurrent writers through two stores (as two server processes) lose no update, the shared
// RateLimiter over two stores enforces one limit, and a killed or frozen Redis gives Unavailable
// values and recovers when it is back.
#include "prod/redis/redis_rate_limit_store.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "prod/runtime/task.h"
#include "ratelimit/rate_limiter.h"
#include "tests/prod/redis/redis_test_server.h"

namespace chatscale {
namespace {

using testing::RedisTestServer;

bool poll_until(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Adds one to a decimal counter blob.
void increment(std::string& blob) { blob = std::to_string((blob.empty() ? 0 : std::stoll(blob)) + 1); }

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }

  RedisConfig config() const {
    RedisConfig c;
    c.port = server_.port();
    c.pool_size = 4;
    c.timeout_s = 2;
    c.key_prefix = "test:";
    return c;
  }

  std::unique_ptr<RedisRateLimitStore> connect(RedisConfig c) {
    auto store = RedisRateLimitStore::connect(std::move(c), pool_);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    return store.is_ok() ? std::move(store).value() : nullptr;
  }

  // The stored blob, read directly ("<nil>" when absent).
  std::string raw(const std::string& command, const std::string& key) const {
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", server_.port(), tv);
    std::string out = "<error>";
    if (c != nullptr && c->err == 0) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "%s %b", command.c_str(), key.data(), key.size()));
      if (r != nullptr && r->type == REDIS_REPLY_STRING) out.assign(r->str, r->len);
      if (r != nullptr && r->type == REDIS_REPLY_NIL) out = "<nil>";
      if (r != nullptr && r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
      if (r != nullptr) freeReplyObject(r);
    }
    if (c != nullptr) redisFree(c);
    return out;
  }

  // The blob `update` sees (and leaves as it is).
  static Result<std::string> read(RedisRateLimitStore& store, const std::string& key) {
    std::string seen;
    Status s = store.update(key, 60, [&](std::string& blob) { seen = blob; });
    if (!s.is_ok()) return s;
    return seen;
  }

  RedisTestServer server_;
  BlockingPool pool_{4};
};

TEST_F(RedisStoreTest, BlobRoundTripsUnderThePrefixWithItsTtl) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  const std::string binary("v2\0\xff", 4);
  ASSERT_TRUE(store->update("k", 60, [](std::string& blob) { blob = "v1"; }).is_ok());
  std::string seen;
  ASSERT_TRUE(store->update("k", 30, [&](std::string& blob) { seen = blob; blob = binary; }).is_ok());
  EXPECT_EQ(seen, "v1");
  EXPECT_EQ(read(*store, "k").value_or("<error>"), binary);
  EXPECT_EQ(raw("GET", "test:k"), binary);
  long long pttl = std::stoll(raw("PTTL", "test:k"));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60000);
  EXPECT_EQ(raw("EXISTS", "k"), "0");  // nothing outside the prefix
}

TEST_F(RedisStoreTest, BlobExpiresAfterItsTtl) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->update("short", 0.2, [](std::string& blob) { blob = "x"; }).is_ok());
  long long pttl = std::stoll(raw("PTTL", "test:short"));
  EXPECT_LE(pttl, 200);
  // Read with raw GET: an update would store the blob again and renew the TTL.
  EXPECT_TRUE(poll_until([&] { return raw("GET", "test:short") == "<nil>"; }));
  std::string seen = "unset";
  ASSERT_TRUE(store->update("short", 1, [&](std::string& blob) { seen = blob; }).is_ok());
  EXPECT_EQ(seen, "");
}

TEST_F(RedisStoreTest, EmptyBlobDeletesTheKey) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->update("gone", 60, [](std::string& blob) { blob = "x"; }).is_ok());
  ASSERT_EQ(raw("EXISTS", "test:gone"), "1");
  ASSERT_TRUE(store->update("gone", 60, [](std::string& blob) { blob.clear(); }).is_ok());
  EXPECT_EQ(raw("EXISTS", "test:gone"), "0");
}

TEST_F(RedisStoreTest, ThrowingUpdateStoresNothing) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->update("t", 60, [](std::string& blob) { blob = "kept"; }).is_ok());
  Status s = store->update("t", 60, [](std::string& blob) {
    blob = "half-written";
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("boom"), std::string::npos);
  EXPECT_EQ(raw("GET", "test:t"), "kept");
}

TEST_F(RedisStoreTest, BadArgumentsAndUnreachableServer) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  auto noop = [](std::string&) {};
  EXPECT_EQ(store->update("k", 0, noop).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->update("k", -1, noop).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->update("k", std::nan(""), noop).code(), StatusCode::kInvalidArgument);

  RedisConfig bad = config();
  bad.pool_size = 0;
  EXPECT_EQ(RedisRateLimitStore::connect(bad, pool_).status().code(), StatusCode::kInvalidArgument);
  bad = config();
  bad.port = 70000;
  EXPECT_EQ(RedisRateLimitStore::connect(bad, pool_).status().code(), StatusCode::kInvalidArgument);

  server_.kill();
  auto refused = RedisRateLimitStore::connect(config(), pool_);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find(std::to_string(server_.port())), std::string::npos);
}

// Two stores, as two server processes would hold, and four threads on each incrementing one key: the
// compare-and-set loses no increment and applies none twice, though conflicts make the function run
// more often than it commits.
TEST_F(RedisStoreTest, TwoStoresCountEveryIncrementExactlyOnce) {
  auto a = connect(config());
  auto b = connect(config());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreadsPerStore = 4;
  constexpr int kIncrements = 150;
  std::atomic<int> committed{0}, failed{0}, runs{0};
  std::vector<std::thread> threads;
  for (RedisRateLimitStore* store : {a.get(), b.get()}) {
    for (int t = 0; t < kThreadsPerStore; ++t) {
      threads.emplace_back([&, store] {
        for (int i = 0; i < kIncrements; ++i) {
          Status s = store->update("counter", 60, [&](std::string& blob) {
            runs.fetch_add(1);
            increment(blob);
          });
          (s.is_ok() ? committed : failed).fetch_add(1);
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(committed.load(), 2 * kThreadsPerStore * kIncrements);
  EXPECT_EQ(raw("GET", "test:counter"), std::to_string(committed.load()));
  EXPECT_EQ(runs.load(), committed.load() + a->conflicts() + b->conflicts());
  std::cout << "[ INFO     ] " << committed.load() << " increments, " << a->conflicts() + b->conflicts()
            << " conflicts retried\n";
}

// Inside tasks, on one I/O thread: every call goes through the blocking pool.
TEST_F(RedisStoreTest, TasksOnOneIoThreadShareThePool) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  boost::asio::io_context ioc;
  std::atomic<int> failed{0};
  std::thread::id io_thread;
  std::atomic<bool> ran_off_io_thread{false};
  for (int t = 0; t < 8; ++t) {
    spawn_task(ioc, [&](TaskYield) {
      io_thread = std::this_thread::get_id();
      for (int i = 0; i < 25; ++i) {
        Status s = store->update("tasks", 60, [&](std::string& blob) {
          if (std::this_thread::get_id() != io_thread) ran_off_io_thread = true;
          increment(blob);
        });
        if (!s.is_ok()) failed.fetch_add(1);
      }
    });
  }
  ioc.run();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_TRUE(ran_off_io_thread.load());
  EXPECT_EQ(raw("GET", "test:tasks"), "200");
}

// The limiter's state lives in Redis, so two limiters (two server processes) share one allowance: 10
// requests a minute in total, not 10 each, even when both race.
TEST_F(RedisStoreTest, RateLimiterOverTwoStoresEnforcesOneLimit) {
  auto a = connect(config());
  auto b = connect(config());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Tier free_tier;
  free_tier.name = "free";
  free_tier.requests_per_minute = 10;
  RateLimiter limiter_a(*a, {free_tier});
  RateLimiter limiter_b(*b, {free_tier});
  const double now = 1000.0;
  std::atomic<int> allowed{0}, refused{0}, errors{0};
  std::vector<std::thread> threads;
  for (RateLimiter* limiter : {&limiter_a, &limiter_b, &limiter_a, &limiter_b}) {
    threads.emplace_back([&, limiter] {
      for (int i = 0; i < 10; ++i) {
        auto d = limiter->acquire("alice", "free", 0, now);
        if (!d.is_ok()) {
          errors.fetch_add(1);
        } else {
          (d->allowed ? allowed : refused).fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 10);
  EXPECT_EQ(refused.load(), 30);
  // Another user has an allowance of their own; a minute later alice has hers back.
  EXPECT_TRUE(limiter_b.acquire("bob", "free", 0, now)->allowed);
  EXPECT_TRUE(limiter_a.acquire("alice", "free", 0, now + 60)->allowed);
}

TEST_F(RedisStoreTest, KilledRedisGivesUnavailableAndRestartRecovers) {
  auto store = connect(config());
  ASSERT_NE(store, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        Status s = store->update("live", 60, increment);
        if (s.is_ok()) {
          ok.fetch_add(1);
        } else {
          (s.code() == StatusCode::kUnavailable ? unavailable : other).fetch_add(1);
        }
      }
    });
  }
  EXPECT_TRUE(poll_until([&] { return ok.load() >= 50; }));
  server_.kill();
  EXPECT_TRUE(poll_until([&] { return unavailable.load() >= 10; }));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);

  // Same port, empty server (no persistence), script cache empty: the pooled connections are dead.
  ASSERT_TRUE(server_.start());
  std::string seen = "unset";
  Status s = store->update("live", 60, [&](std::string& blob) { seen = blob; increment(blob); });
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(seen, "");
  EXPECT_EQ(raw("GET", "test:live"), "1");
  EXPECT_GT(store->dropped_connections(), 0);
}

TEST_F(RedisStoreTest, FrozenRedisTimesOutAndRecoversWhenThawed) {
  RedisConfig c = config();
  c.timeout_s = 0.2;
  auto store = connect(c);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->update("frozen", 60, increment).is_ok());
  server_.freeze();
  Status s = store->update("frozen", 60, increment);
  server_.thaw();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  EXPECT_TRUE(poll_until([&] { return store->update("frozen", 60, increment).is_ok(); }));
  EXPECT_EQ(raw("GET", "test:frozen"), "2");
}

}  // namespace
}  // namespace chatscale
