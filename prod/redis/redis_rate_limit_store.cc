#include "prod/redis/redis_rate_limit_store.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <random>
#include <string_view>
#include <thread>
#include <utility>

#include <hiredis/hiredis.h>

namespace chatscale {
namespace {

// Compare-and-set of one key. KEYS[1]: the key; ARGV[1]: the blob that was read (empty: absent);
// ARGV[2]: the new blob (empty: delete the key); ARGV[3]: its time to live in milliseconds.
// Returns 1 when stored, 0 when the key no longer holds ARGV[1]. Lua strings are binary-safe.
constexpr const char* kCasScript = R"lua(
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
)lua";

// TTLs past this (about 31 years) are clamped: PX takes a 64-bit count but Redis adds it to now.
constexpr double kMaxTtlMs = 1e12;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  return tv;
}

// A null reply means the connection failed (I/O error, timeout, EOF): hiredis leaves the context
// unusable, so the caller drops it.
Status connection_error(const redisContext* c, const char* what) {
  return unavailable(std::string("redis: ") + what + ": " + (c->err != 0 ? c->errstr : "no reply"));
}

Status error_reply(const redisReply* r, const char* what) {
  return unavailable(std::string("redis: ") + what + ": " + std::string(r->str, r->len));
}

// Waits a random time that grows with the number of conflicts, so writers that keep colliding on one
// key spread out instead of retrying in lockstep.
void backoff(int conflicts) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int cap_us = std::min(5000, 50 << std::min(conflicts, 7));
  std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap_us)(rng)));
}

Status check_config(const RedisConfig& c) {
  if (c.host.empty()) return invalid_argument("redis: host is empty");
  if (c.port < 1 || c.port > 65535) return invalid_argument("redis: port " + std::to_string(c.port) + " is out of range");
  if (c.pool_size < 1) return invalid_argument("redis: pool_size must be at least 1");
  if (!std::isfinite(c.timeout_s) || c.timeout_s <= 0) return invalid_argument("redis: timeout_s must be positive");
  if (c.max_attempts < 1) return invalid_argument("redis: max_attempts must be at least 1");
  return Status::ok();
}

}  // namespace

void RedisRateLimitStore::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

RedisRateLimitStore::RedisRateLimitStore(RedisConfig config, BlockingPool& pool)
    : config_(std::move(config)), pool_(pool) {}

RedisRateLimitStore::~RedisRateLimitStore() = default;

Result<std::unique_ptr<RedisRateLimitStore>> RedisRateLimitStore::connect(RedisConfig config, BlockingPool& pool) {
  CS_RETURN_IF_ERROR(check_config(config));
  std::unique_ptr<RedisRateLimitStore> store(new RedisRateLimitStore(std::move(config), pool));
  RedisRateLimitStore& s = *store;
  Status loaded = pool.run([&s]() -> Status {
    CS_ASSIGN_OR_RETURN(Connection c, s.open_connection());
    bool broken = false;
    CS_ASSIGN_OR_RETURN(s.script_sha_, s.load_script(c.get(), broken));
    std::lock_guard lock(s.mu_);
    s.idle_.push_back(std::move(c));
    s.open_ = 1;
    return Status::ok();
  });
  CS_RETURN_IF_ERROR(loaded);
  return store;
}

Result<RedisRateLimitStore::Connection> RedisRateLimitStore::open_connection() const {
  Connection c(redisConnectWithTimeout(config_.host.c_str(), config_.port, to_timeval(config_.timeout_s)));
  if (!c) return unavailable("redis: cannot allocate a connection");
  if (c->err != 0) {
    return unavailable("redis: connect to " + config_.host + ":" + std::to_string(config_.port) + ": " + c->errstr);
  }
  if (redisSetTimeout(c.get(), to_timeval(config_.timeout_s)) != REDIS_OK) {
    return unavailable(std::string("redis: setting the command timeout: ") + c->errstr);
  }
  redisEnableKeepAlive(c.get());
  return c;
}

Result<std::string> RedisRateLimitStore::load_script(redisContext* c, bool& broken) const {
  Reply r(static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kCasScript)));
  if (!r) {
    broken = true;
    return connection_error(c, "SCRIPT LOAD");
  }
  if (r->type == REDIS_REPLY_ERROR) return error_reply(r.get(), "SCRIPT LOAD");
  if (r->type != REDIS_REPLY_STRING) return unavailable("redis: SCRIPT LOAD: unexpected reply");
  return std::string(r->str, r->len);
}

Result<RedisRateLimitStore::Connection> RedisRateLimitStore::lease(bool& fresh) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(config_.timeout_s);
  while (idle_.empty() && open_ >= config_.pool_size) {
    if (slot_freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= config_.pool_size) {
      return unavailable("redis: all " + std::to_string(config_.pool_size) + " connections busy");
    }
  }
  if (!idle_.empty()) {
    Connection c = std::move(idle_.back());
    idle_.pop_back();
    fresh = false;
    return c;
  }
  ++open_;  // reserve the slot, then connect without holding the lock
  lock.unlock();
  Result<Connection> c = open_connection();
  if (!c.is_ok()) give_back(nullptr, false);
  fresh = true;
  return c;
}

void RedisRateLimitStore::give_back(Connection connection, bool healthy) {
  {
    std::lock_guard lock(mu_);
    if (healthy && connection) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
      if (connection) dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  slot_freed_.notify_one();
}

void RedisRateLimitStore::drop_idle() {
  std::vector<Connection> stale;
  {
    std::lock_guard lock(mu_);
    stale.swap(idle_);
    open_ -= static_cast<int>(stale.size());
  }
  dropped_.fetch_add(static_cast<std::int64_t>(stale.size()), std::memory_order_relaxed);
  slot_freed_.notify_all();
}

Result<std::string> RedisRateLimitStore::get(redisContext* c, const std::string& key, bool& broken) const {
  Reply r(static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size())));
  if (!r) {
    broken = true;
    return connection_error(c, "GET");
  }
  if (r->type == REDIS_REPLY_NIL) return std::string();
  if (r->type == REDIS_REPLY_ERROR) return error_reply(r.get(), "GET");
  if (r->type != REDIS_REPLY_STRING) return unavailable("redis: GET: unexpected reply type");
  return std::string(r->str, r->len);
}

Result<RedisRateLimitStore::Cas> RedisRateLimitStore::compare_and_set(redisContext* c, const std::string& key,
                                                                      const std::string& expected,
                                                                      const std::string& next, long long ttl_ms,
                                                                      bool& broken) const {
  std::string px = std::to_string(ttl_ms);
  Reply r(static_cast<redisReply*>(redisCommand(c, "EVALSHA %s 1 %b %b %b %b", script_sha_.c_str(), key.data(),
                                                key.size(), expected.data(), expected.size(), next.data(),
                                                next.size(), px.data(), px.size())));
  // A restarted (or flushed) server no longer knows the script: EVAL sends it, and caches it again.
  if (r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
    r.reset(static_cast<redisReply*>(redisCommand(c, "EVAL %s 1 %b %b %b %b", kCasScript, key.data(), key.size(),
                                                  expected.data(), expected.size(), next.data(), next.size(),
                                                  px.data(), px.size())));
  }
  if (!r) {
    broken = true;
    return connection_error(c, "compare-and-set");
  }
  if (r->type == REDIS_REPLY_ERROR) return error_reply(r.get(), "compare-and-set");
  if (r->type != REDIS_REPLY_INTEGER) return unavailable("redis: compare-and-set: unexpected reply type");
  return r->integer == 1 ? Cas::kStored : Cas::kConflict;
}

Status RedisRateLimitStore::update(const std::string& key, double ttl_seconds,
                                   const std::function<void(std::string& blob)>& update) {
  if (!std::isfinite(ttl_seconds) || ttl_seconds <= 0) {
    return invalid_argument("rate-limit store: ttl must be a positive number of seconds");
  }
  auto ttl_ms = static_cast<long long>(std::clamp(std::ceil(ttl_seconds * 1000), 1.0, kMaxTtlMs));
  std::string full_key = config_.key_prefix + key;
  return pool_.run([&]() -> Status { return update_blocking(full_key, ttl_ms, update); });
}

Status RedisRateLimitStore::update_blocking(const std::string& key, long long ttl_ms,
                                            const std::function<void(std::string& blob)>& update) {
  bool fresh = false;
  CS_ASSIGN_OR_RETURN(Connection c, lease(fresh));
  bool broken = false;
  // Gives the connection back on every path; a broken one is dropped.
  struct Return {
    RedisRateLimitStore& store;
    Connection& c;
    bool& broken;
    ~Return() {
      if (c) store.give_back(std::move(c), !broken);
    }
  } on_exit{*this, c, broken};

  int conflicts = 0;
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    Result<std::string> read = get(c.get(), key, broken);
    if (!read.is_ok() && broken && !fresh) {
      // A pooled connection may have died while idle (say, Redis restarted): a GET changes nothing, so
      // it is safe to retry once on a new connection. Dropping every idle one spares the next callers.
      give_back(std::move(c), false);
      drop_idle();
      broken = false;
      CS_ASSIGN_OR_RETURN(c, lease(fresh));
      read = get(c.get(), key, broken);
    }
    CS_RETURN_IF_ERROR(read.status());
    std::string next = read.value();
    try {
      update(next);
    } catch (const std::exception& e) {
      return internal_error(std::string("rate-limit store: update failed: ") + e.what());
    } catch (...) {
      return internal_error("rate-limit store: update failed");
    }
    if (next.empty() && read.value().empty()) return Status::ok();  // absent and left absent
    CS_ASSIGN_OR_RETURN(Cas outcome, compare_and_set(c.get(), key, read.value(), next, ttl_ms, broken));
    if (outcome == Cas::kStored) return Status::ok();
    conflicts_.fetch_add(1, std::memory_order_relaxed);
    backoff(++conflicts);
  }
  return unavailable("rate-limit store: key " + key + " still contended after " +
                     std::to_string(config_.max_attempts) + " attempts");
}

}  // namespace chatscale
