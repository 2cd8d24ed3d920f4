// JSON Web Tokens signed with HMAC-SHA256 (RFC 7519 / RFC 7515, "HS256" only), for access and refresh
// tokens. Decision code: verification takes `now` (seconds since the epoch) and never reads a clock.
// Ownership: a JwtCodec owns copies of its keys. Thread-safety: a JwtCodec is immutable after
// create(), so issue() and verify() may run concurrently. Failure behaviour: every rejected token is
// a kUnauthenticated Status with a message naming the first check that failed; nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale {

// Registered claims (seconds since the epoch) plus the service's own: tier and token kind.
// On verify, optional claims that are absent read as "" (strings) or 0 (iat, nbf).
struct Claims {
  std::string sub;   // user id; required, non-empty
  std::string tier;  // "free", "plus", ... (optional)
  double iat = 0;    // issued at (optional; 0 = absent)
  double exp = 0;    // expiry; required
  double nbf = 0;    // not before (optional; 0 = absent)
  std::string jti;   // token id, for revocation lists (optional)
  std::string kind;  // "access" or "refresh"; optional, but no other value is accepted
};

// One signing key. `id` goes in the token header as "kid" when non-empty.
struct JwtKey {
  std::string id;
  std::string secret;  // raw bytes, at least JwtCodec::kMinSecretBytes
};

inline constexpr std::string_view kAccessToken = "access";
inline constexpr std::string_view kRefreshToken = "refresh";

class JwtCodec {
 public:
  static constexpr size_t kMinSecretBytes = 32;
  static constexpr size_t kMaxTokenBytes = 8 * 1024;

  // One key without an id. InvalidArgument for a secret under 32 bytes or a leeway that is negative
  // or not finite; Internal when libsodium cannot initialise.
  static Result<JwtCodec> create(std::string secret, double leeway_seconds = 30);
  // Key rotation: keys[0] is the current key (issue() signs with it); the others still verify.
  // A token whose header names a "kid" is checked against that key only; a token without "kid" is
  // checked against every key. Ids must be unique; at least one key.
  static Result<JwtCodec> create(std::vector<JwtKey> keys, double leeway_seconds = 30);

  // Signs `claims` with the current key. Empty tier/jti/kind and zero nbf are left out of the
  // payload; numbers with no fractional part are written as JSON integers.
  std::string issue(const Claims& claims) const;

  // Checks size, structure, header (alg must be HS256, typ JWT when present, no "crit"), signature
  // (constant time), claim types, then times with the leeway: rejects exp <= now - leeway,
  // nbf > now + leeway and iat > now + leeway.
  Result<Claims> verify(std::string_view token, double now) const;
  // As verify, and the token's kind must be `expected_kind` (an absent kind never matches).
  Result<Claims> verify(std::string_view token, double now, std::string_view expected_kind) const;

  double leeway_seconds() const { return leeway_; }

 private:
  JwtCodec(std::vector<JwtKey> keys, double leeway) : keys_(std::move(keys)), leeway_(leeway) {}

  std::vector<JwtKey> keys_;  // keys_[0] signs
  double leeway_;
};

// The building blocks of JwtCodec::verify, for tools and for checking tokens from other systems.
// Checks size, structure, header and the signature under `secret` (any length, RFC 2104), ignoring
// "kid". Returns the decoded payload text, not yet validated as claims.
Result<std::string> verify_jwt_signature(std::string_view token, std::string_view secret);
// Parses and validates a decoded payload (types, required claims, times) as verify() does.
Result<Claims> parse_jwt_claims(std::string_view payload_json, double now, double leeway_seconds);

}  // namespace chatscale
