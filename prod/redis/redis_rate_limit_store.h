// RedisRateLimitStore: the RateLimitStore port (shared/ports/stores.h) over one Redis server, so every
// chatscale server process shares each user's rate-limit state (shared/ratelimit/rate_limiter.h).
//
// Each update is an optimistic read-modify-write of one key: GET the blob, run the caller's function
// on a copy, then one server-side Lua script (EVALSHA) stores the new blob with a PX time to live only
// if the key still holds the blob that was read (an empty new blob deletes the key). On a conflict
// (another process or thread wrote in between) it starts again, up to max_attempts times, with a short
// randomized backoff; so the function may run more than once per update, and exactly one run commits.
//
// Ownership: owns a small pool of hiredis connections (at most pool_size, opened on demand; a
// connection that fails is discarded and a fresh one opened on the next use); borrows the
// BlockingPool, which must outlive the store. Every blocking hiredis call, and the caller's function,
// runs inside BlockingPool::run, so a task calling update() is suspended, never its I/O thread.
// Thread-safety: update() may be called from any number of tasks and threads at once.
// Failure: errors are values, never exceptions. A TTL that is not a positive finite number:
// InvalidArgument. Redis unreachable, a timeout (timeout_s per connect and per command), a lost
// connection or an error reply: Unavailable (the next call reconnects). Still conflicting after
// max_attempts: Unavailable. The function throwing: Internal, nothing stored. A lost reply to the
// compare-and-set is reported as Unavailable although the write may have landed (the TTL bounds the
// effect). A server restart is survived: the script is sent again when Redis no longer knows it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "ports/stores.h"
#include "prod/runtime/blocking_pool.h"

struct redisContext;

namespace chatscale {

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int pool_size = 8;                      // connections per store (per server process)
  double timeout_s = 1.0;                 // connect timeout, and read/write timeout of each command
  std::string key_prefix = "chatscale:";  // prepended to every key
  int max_attempts = 50;                  // compare-and-set attempts per update before Unavailable
};

class RedisRateLimitStore : public RateLimitStore {
 public:
  // Opens one connection (checking the server answers) and loads the compare-and-set script.
  // InvalidArgument for a bad configuration, Unavailable when Redis cannot be reached.
  static Result<std::unique_ptr<RedisRateLimitStore>> connect(RedisConfig config, BlockingPool& pool);
  ~RedisRateLimitStore() override;
  RedisRateLimitStore(const RedisRateLimitStore&) = delete;
  RedisRateLimitStore& operator=(const RedisRateLimitStore&) = delete;

  Status update(const std::string& key, double ttl_seconds,
                const std::function<void(std::string& blob)>& update) override;

  const RedisConfig& config() const { return config_; }
  // Compare-and-set attempts that lost to another writer and were retried (a contention gauge).
  std::int64_t conflicts() const { return conflicts_.load(std::memory_order_relaxed); }
  // Connections dropped because they failed (lost, timed out, or found dead after a restart).
  std::int64_t dropped_connections() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using Connection = std::unique_ptr<redisContext, ContextDeleter>;
  enum class Cas { kStored, kConflict };

  RedisRateLimitStore(RedisConfig config, BlockingPool& pool);

  // The update, run on a pool thread (or inline outside a task).
  Status update_blocking(const std::string& key, long long ttl_ms,
                         const std::function<void(std::string& blob)>& update);
  Result<Connection> open_connection() const;
  // A pooled connection or a fresh one (waiting up to timeout_s when pool_size are in use); `fresh`
  // says which.
  Result<Connection> lease(bool& fresh);
  // Returns a healthy connection to the pool; a failed one is dropped and frees its slot.
  void give_back(Connection connection, bool healthy);
  // Drops every idle connection (after one was found dead: the others likely are too).
  void drop_idle();
  // GET: the blob, empty when absent. Marks `broken` when the connection is unusable.
  Result<std::string> get(redisContext* c, const std::string& key, bool& broken) const;
  Result<Cas> compare_and_set(redisContext* c, const std::string& key, const std::string& expected,
                              const std::string& next, long long ttl_ms, bool& broken) const;
  Result<std::string> load_script(redisContext* c, bool& broken) const;

  const RedisConfig config_;
  BlockingPool& pool_;
  std::string script_sha_;  // set once by connect()

  std::mutex mu_;
  std::condition_variable slot_freed_;
  std::vector<Connection> idle_;  // guarded by mu_
  int open_ = 0;                  // guarded by mu_: connections idle or leased

  std::atomic<std::int64_t> conflicts_{0};
  std::atomic<std::int64_t> dropped_{0};
};

}  // namespace chatscale
