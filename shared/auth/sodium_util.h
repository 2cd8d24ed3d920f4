// Small libsodium helpers shared by the auth components: one-time library initialisation and the
// encodings that tokens and stored hashes use (base64url without padding, lower-case hex).
// Thread-safety: all functions are thread-safe (sodium_init is idempotent and guarded by libsodium).
// Failure behaviour: decoding returns an error value for any input that is not the canonical encoding
// of some byte string; nothing throws.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace chatscale {

// Ok once libsodium is initialised (the first call initialises it); an internal error when libsodium
// could not initialise (no entropy source), in which case no key or salt may be generated.
Status sodium_ready();

// RFC 4648 section 5 alphabet, no '=' padding.
std::string base64url_encode(std::string_view bytes);
// Strict inverse of base64url_encode: rejects padding, whitespace, other alphabets and non-zero
// trailing bits, so one byte string has exactly one accepted encoding.
Result<std::string> base64url_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);

// Constant-time equality of two byte strings; lengths are compared in the open (they are not secret
// for tokens and fixed-size hashes).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace chatscale
