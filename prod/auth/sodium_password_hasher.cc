#include "sodium_password_hasher.h"

#include <sodium.h>

#include <string_view>

#include "auth/sodium_util.h"

namespace chatscale {
namespace {

constexpr std::string_view kArgon2idPrefix = crypto_pwhash_argon2id_STRPREFIX;

// The libsodium functions read the hash as a C string of fewer than crypto_pwhash_STRBYTES bytes.
bool fits_c_string(const std::string& hash) {
  return hash.size() < crypto_pwhash_STRBYTES && hash.find('\0') == std::string::npos;
}

// crypto_pwhash_str_needs_rehash decodes the whole PHC string (algorithm, version, parameters, salt,
// hash) and returns -1 only when it cannot: the one libsodium call that tells "malformed" apart.
Result<int> rehash_check(const std::string& hash, const PwhashLimits& limits) {
  if (!fits_c_string(hash)) return invalid_argument("malformed password hash");
  int rc = crypto_pwhash_str_needs_rehash(hash.c_str(), limits.opslimit, limits.memlimit);
  if (rc < 0) return invalid_argument("malformed password hash");
  return rc;
}

}  // namespace

PwhashLimits PwhashLimits::interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

PwhashLimits PwhashLimits::moderate() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
}

PwhashLimits PwhashLimits::minimum() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

Result<SodiumPasswordHasher> SodiumPasswordHasher::create(PwhashLimits limits) {
  CS_RETURN_IF_ERROR(sodium_ready());
  if (limits.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      limits.opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
    return invalid_argument("argon2id opslimit " + std::to_string(limits.opslimit) +
                            " is out of range");
  }
  if (limits.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      limits.memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return invalid_argument("argon2id memlimit " + std::to_string(limits.memlimit) +
                            " is out of range");
  }
  return SodiumPasswordHasher(limits);
}

Result<std::string> SodiumPasswordHasher::hash(const std::string& password) {
  if (password.empty()) return invalid_argument("password is empty");
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument("password is longer than " + std::to_string(kMaxPasswordBytes) +
                            " bytes");
  }
  char out[crypto_pwhash_STRBYTES];
  int rc = crypto_pwhash_str_alg(out, password.data(), password.size(), limits_.opslimit,
                                 limits_.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  if (rc != 0) return internal_error("argon2id hashing failed (out of memory?)");
  return std::string(out);
}

Result<bool> SodiumPasswordHasher::verify(const std::string& password, const std::string& hash) {
  // Checked first so that a bad stored hash is reported, not hidden behind "wrong password".
  CS_RETURN_IF_ERROR(rehash_check(hash, limits_).status());
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<bool> SodiumPasswordHasher::needs_rehash(const std::string& hash) const {
  CS_ASSIGN_OR_RETURN(int rc, rehash_check(hash, limits_));
  if (!std::string_view(hash).starts_with(kArgon2idPrefix)) return true;  // an argon2i hash
  return rc == 1;
}

}  // namespace chatscale
