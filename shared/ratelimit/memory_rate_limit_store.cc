#include "ratelimit/memory_rate_limit_store.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>

namespace chatscale {
namespace {

// Expired entries are reclaimed in passes over a stripe's buckets, a few buckets per update, so no
// update holds the lock long. A pass starts when the stripe has doubled since the previous pass
// ended, so memory stays within about twice the live entries while updates of keys already held
// (the common case: a user's acquire, reconcile and release) mostly pay nothing: walking buckets
// costs cache misses on cold nodes.
constexpr std::size_t kSweepBucketsPerUpdate = 4;

}  // namespace

MemoryRateLimitStore::MemoryRateLimitStore(const Clock& clock, std::size_t stripes)
    : clock_(clock),
      mask_(std::bit_ceil(stripes == 0 ? std::size_t{1} : stripes) - 1),
      stripes_(std::make_unique<Stripe[]>(mask_ + 1)) {}

MemoryRateLimitStore::Stripe& MemoryRateLimitStore::stripe_for(const std::string& key) {
  // The map hashes the key again; mixing the high bits here keeps the two uses independent.
  std::size_t h = std::hash<std::string>{}(key);
  return stripes_[(h ^ (h >> 29) ^ (h >> 47)) & mask_];
}

Status MemoryRateLimitStore::update(const std::string& key, double ttl_seconds,
                                    const std::function<void(std::string& blob)>& update) {
  if (!std::isfinite(ttl_seconds) || ttl_seconds <= 0) {
    return invalid_argument("rate-limit store: ttl must be a positive number of seconds");
  }
  double now = clock_.now();
  Stripe& stripe = stripe_for(key);
  std::lock_guard lock(stripe.mu);
  sweep_some(stripe, now);
  auto [it, inserted] = stripe.entries.try_emplace(key);
  Entry& entry = it->second;
  if (!inserted && entry.expires_at <= now) entry.blob.clear();
  // The function works on a copy, so a throw leaves the stored blob untouched; the thread-local
  // buffer keeps its capacity, so the copy allocates nothing in steady state.
  thread_local std::string scratch;
  scratch.assign(entry.blob);
  try {
    update(scratch);
  } catch (const std::exception& e) {
    if (inserted) stripe.entries.erase(it);
    return internal_error(std::string("rate-limit store: update failed: ") + e.what());
  } catch (...) {
    if (inserted) stripe.entries.erase(it);
    return internal_error("rate-limit store: update failed");
  }
  if (scratch.empty()) {
    stripe.entries.erase(it);
    return Status::ok();
  }
  entry.blob.swap(scratch);
  entry.expires_at = now + ttl_seconds;
  return Status::ok();
}

void MemoryRateLimitStore::sweep_some(Stripe& stripe, double now) {
  auto& entries = stripe.entries;
  if (stripe.sweep_left == 0) {
    if (entries.size() < stripe.sweep_watermark) return;
    stripe.sweep_left = entries.bucket_count();
  }
  for (std::size_t i = 0; i < kSweepBucketsPerUpdate && stripe.sweep_left > 0; ++i, --stripe.sweep_left) {
    std::size_t bucket = stripe.sweep_cursor++ % entries.bucket_count();
    // Erasing invalidates the local iterator, so restart the (typically one-entry) bucket after each.
    auto local = entries.begin(bucket);
    while (local != entries.end(bucket)) {
      if (local->second.expires_at > now) {
        ++local;
        continue;
      }
      entries.erase(entries.find(local->first));
      local = entries.begin(bucket);
    }
  }
  if (stripe.sweep_left == 0) stripe.sweep_watermark = std::max(kMinSweepWatermark, 2 * entries.size());
}

std::size_t MemoryRateLimitStore::sweep() {
  double now = clock_.now();
  std::size_t removed = 0;
  for (std::size_t i = 0; i <= mask_; ++i) {
    std::lock_guard lock(stripes_[i].mu);
    Stripe& stripe = stripes_[i];
    removed += std::erase_if(stripe.entries, [now](const auto& kv) { return kv.second.expires_at <= now; });
    stripe.sweep_left = 0;
    stripe.sweep_watermark = std::max(kMinSweepWatermark, 2 * stripe.entries.size());
  }
  return removed;
}

std::size_t MemoryRateLimitStore::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i <= mask_; ++i) {
    std::lock_guard lock(stripes_[i].mu);
    total += stripes_[i].entries.size();
  }
  return total;
}

}  // namespace chatscale
