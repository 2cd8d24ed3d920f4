// Password hashing port. Prod's adapter is argon2id through libsodium (prod/runtime); tests use a
// fast deterministic fake. Hashes are self-describing strings (PHC format for argon2id).
#pragma once

#include <string>

#include "core/status.h"

namespace chatscale {

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  virtual Result<std::string> hash(const std::string& password) = 0;
  // true when `password` matches `hash`; an error only for a malformed hash.
  virtual Result<bool> verify(const std::string& password, const std::string& hash) = 0;
};

}  // namespace chatscale
