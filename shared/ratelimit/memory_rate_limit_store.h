// In-process RateLimitStore: a hash map striped over mutexes, each entry expiring `ttl_seconds` after
// its last update. The single-instance default in prod and the store the simulator uses.
//
// Ownership: owns its entries; borrows the clock, which must outlive the store.
// Thread-safety: every method may be called from any thread. update() runs the caller's function
// under its stripe's lock, so the read-modify-write of one key is atomic; that function must be
// short and must not call back into the store.
// Expiry: an expired entry reads as absent at once (lazy expiry). Its memory is reclaimed by sweep()
// or by incremental passes: once a stripe has doubled since its last pass, each update on it sweeps
// a few hash buckets until the pass has covered the stripe, so memory stays within about twice the
// live entries even when nobody calls sweep().
// Failure: InvalidArgument for a TTL that is not a positive finite number; Internal when the update
// function throws (the entry is then left as it was). An update that leaves an empty blob deletes
// the key.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/status.h"
#include "ports/clock.h"
#include "ports/stores.h"

namespace chatscale {

class MemoryRateLimitStore : public RateLimitStore {
 public:
  // `stripes` is rounded up to a power of two (at least 1).
  explicit MemoryRateLimitStore(const Clock& clock, std::size_t stripes = 64);

  Status update(const std::string& key, double ttl_seconds,
                const std::function<void(std::string& blob)>& update) override;

  // Removes every expired entry, one stripe at a time; returns how many it removed.
  std::size_t sweep();
  // Entries held, including expired ones not yet swept.
  std::size_t size() const;

 private:
  static constexpr std::size_t kMinSweepWatermark = 64;

  struct Entry {
    std::string blob;
    double expires_at = 0;
  };
  // One lock and the keys it guards, padded to a cache line so stripes do not share one.
  struct alignas(64) Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;  // guarded by mu
    std::size_t sweep_cursor = 0;     // guarded by mu: next bucket to sweep
    std::size_t sweep_left = 0;       // guarded by mu: buckets left in the current pass (0: none)
    std::size_t sweep_watermark = kMinSweepWatermark;  // guarded by mu: the size that starts a pass
  };

  Stripe& stripe_for(const std::string& key);
  static void sweep_some(Stripe& stripe, double now);

  const Clock& clock_;
  std::size_t mask_;
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace chatscale
