// API keys and the Authorization header. An API key is "cs-" followed by 32 random bytes in base64url
// (46 characters); the service stores only a keyed BLAKE2b hash of it (the key is the server pepper),
// so a leaked table of hashes cannot be checked against guesses without the pepper.
// Thread-safety: ApiKeyHasher is immutable after create(); the free functions are thread-safe.
// Failure behaviour: errors are values; nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace chatscale {

inline constexpr std::string_view kApiKeyPrefix = "cs-";
inline constexpr size_t kApiKeyRandomBytes = 32;
inline constexpr size_t kApiKeyLength = 46;  // 3 + base64url(32 bytes) = 3 + 43

// A fresh key from the operating system's CSPRNG (randombytes_buf). Internal error only when
// libsodium cannot initialise.
Result<std::string> generate_api_key();

// Opaque refresh tokens: "rt-" followed by 32 random bytes in base64url. Stored only as
// ApiKeyHasher::hash (the same keyed BLAKE2b), never in the clear.
inline constexpr std::string_view kRefreshTokenPrefix = "rt-";
Result<std::string> generate_refresh_token();
// 16 random bytes as 32 lower-case hex characters (ids of refresh-token families).
Result<std::string> generate_random_id();

// True when `text` has the shape of a key from generate_api_key (prefix, length, alphabet), which
// lets the gateway tell an API key from a JWT without a lookup. Says nothing about validity.
bool is_api_key_format(std::string_view text);

class ApiKeyHasher {
 public:
  static constexpr size_t kMinPepperBytes = 32;
  static constexpr size_t kMaxPepperBytes = 64;  // crypto_generichash_KEYBYTES_MAX

  // InvalidArgument for a pepper outside [32, 64] bytes; Internal when libsodium cannot initialise.
  static Result<ApiKeyHasher> create(std::string pepper);

  // 64 lower-case hex characters: BLAKE2b-256 of the key, keyed with the pepper. Deterministic, so
  // the hash can be the lookup key of the stored record.
  std::string hash(std::string_view api_key) const;
  // Constant-time comparison of hash(api_key) with a stored hash.
  bool matches(std::string_view api_key, std::string_view stored_hash) const;

 private:
  explicit ApiKeyHasher(std::string pepper) : pepper_(std::move(pepper)) {}

  std::string pepper_;
};

// Extracts the credentials of "Authorization: Bearer <token>" (RFC 6750 2.1): the scheme is
// case-insensitive, surrounding whitespace is ignored, the token must be a non-empty token68 of at
// most JwtCodec::kMaxTokenBytes. Unauthenticated otherwise, with a message saying what was wrong.
Result<std::string> bearer_token(std::string_view authorization_header);

}  // namespace chatscale
