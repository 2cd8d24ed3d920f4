// The prod PasswordHasher: argon2id through libsodium (crypto_pwhash_str_alg), PHC strings such as
// "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>" with a fresh random salt per hash.
// Ownership: a value type holding only its limits. Thread-safety: stateless after create(), safe to
// share between threads; each hash() allocates memlimit bytes for its duration (64 MiB by default),
// so callers bound concurrency. Failure behaviour: errors are values; nothing throws.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"
#include "ports/password_hasher.h"

namespace chatscale {

// argon2id cost: passes over memory (opslimit) and memory in bytes (memlimit).
struct PwhashLimits {
  unsigned long long opslimit;
  size_t memlimit;

  static PwhashLimits interactive();  // libsodium's INTERACTIVE: 2 passes, 64 MiB (the default)
  static PwhashLimits moderate();     // MODERATE: 3 passes, 256 MiB
  static PwhashLimits minimum();      // MIN: 1 pass, 8 KiB. Tests only: offers no protection.
};

class SodiumPasswordHasher : public PasswordHasher {
 public:
  static constexpr size_t kMaxPasswordBytes = 1024;

  // InvalidArgument for limits outside argon2id's bounds; Internal when sodium_init fails.
  static Result<SodiumPasswordHasher> create(PwhashLimits limits = PwhashLimits::interactive());

  // InvalidArgument for an empty password or one over kMaxPasswordBytes; Internal when argon2id
  // cannot allocate its memory.
  Result<std::string> hash(const std::string& password) override;
  // false for a wrong password (and for an empty or over-long one, which no hash() accepted);
  // InvalidArgument when `hash` is not a well-formed argon2 PHC string.
  Result<bool> verify(const std::string& password, const std::string& hash) override;
  // true when `hash` was made with another algorithm or other limits than this hasher's, so the
  // caller should store a new hash after the next successful login. InvalidArgument when malformed.
  Result<bool> needs_rehash(const std::string& hash) const;

  const PwhashLimits& limits() const { return limits_; }

 private:
  explicit SodiumPasswordHasher(PwhashLimits limits) : limits_(limits) {}

  PwhashLimits limits_;
};

}  // namespace chatscale
