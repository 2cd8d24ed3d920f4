// A fast, deterministic PasswordHasher for tests: hash(p) = "fake$" + hex(BLAKE2b-256(p)), no salt and
// no work factor, so equal passwords give equal hashes. Never use it outside tests.
// Mirrors the prod adapter's contract: empty or over-long passwords are InvalidArgument on hash();
// verify() is false for a wrong password and InvalidArgument for a string that is not a fake hash.
// Thread-safety: stateless apart from call counters, which are atomic.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "ports/password_hasher.h"

namespace chatscale::testing {

class FakePasswordHasher : public PasswordHasher {
 public:
  static constexpr size_t kMaxPasswordBytes = 1024;

  Result<std::string> hash(const std::string& password) override;
  Result<bool> verify(const std::string& password, const std::string& hash) override;

  // How many times each method was called, so tests can check that work was (not) done.
  int hash_calls() const { return hash_calls_.load(); }
  int verify_calls() const { return verify_calls_.load(); }

 private:
  std::atomic<int> hash_calls_{0};
  std::atomic<int> verify_calls_{0};
};

}  // namespace chatscale::testing
