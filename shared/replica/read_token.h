// Read-your-writes token: the LSN at which a caller's last write became durable on the primary and the
// time it was issued. It travels to the client and back in an HTTP header as "<lsn>.<issued_ms>",
// e.g. "16912345.1718000000123" (issued_at in integer milliseconds).
// Ownership: plain values. Thread-safety: pure functions.
// Failure behaviour: decoding is strict and never crashes; anything but the canonical form (decimal
// digits, no sign, no spaces, no leading zeros, no overflow, exactly one dot) is InvalidArgument.
// A token is client-supplied and unsigned: see ReplicaRouter for how a forged one is bounded.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "ports/types.h"

namespace chatscale {

struct ReadToken {
  Lsn lsn = 0;            // 0: no write to wait for
  double issued_at = 0;   // seconds, on the clock that `now` uses in ReplicaRouter::pick_replica

  friend bool operator==(const ReadToken&, const ReadToken&) = default;
};

// The HTTP header that carries the token.
inline constexpr std::string_view kReadTokenHeader = "x-chatscale-read-token";

// "<lsn>.<issued_ms>". issued_at is rounded to whole milliseconds; negative or non-finite times
// encode as 0 (a token from time 0 has long expired, which is the safe direction).
std::string encode_read_token(const ReadToken& token);

// Inverse of encode_read_token (exact for issued_at in whole milliseconds).
Result<ReadToken> decode_read_token(std::string_view text);

}  // namespace chatscale
