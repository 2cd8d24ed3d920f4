#include "replica/read_token.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

namespace chatscale {
namespace {

// Longest canonical token: 20 digits of u64, a dot, 16 digits of milliseconds.
constexpr std::size_t kMaxTokenLength = 40;
// Milliseconds above 2^53 do not survive the trip through a double; no honest clock gets there.
constexpr std::uint64_t kMaxIssuedMs = 9007199254740992ULL;

// Canonical unsigned decimal: digits only, no leading zero unless the number is 0, no overflow.
Result<std::uint64_t> parse_decimal(std::string_view part, std::string_view what) {
  if (part.empty()) return invalid_argument(std::string("read token: empty ") + std::string(what));
  if (part.size() > 1 && part[0] == '0') {
    return invalid_argument(std::string("read token: leading zero in ") + std::string(what));
  }
  for (char c : part) {
    if (c < '0' || c > '9') {
      return invalid_argument(std::string("read token: non-digit in ") + std::string(what));
    }
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
  if (ec != std::errc() || end != part.data() + part.size()) {
    return invalid_argument(std::string("read token: ") + std::string(what) + " out of range");
  }
  return value;
}

}  // namespace

std::string encode_read_token(const ReadToken& token) {
  double ms = std::isfinite(token.issued_at) && token.issued_at > 0 ? std::round(token.issued_at * 1000.0)
                                                                     : 0.0;
  if (ms > static_cast<double>(kMaxIssuedMs)) ms = static_cast<double>(kMaxIssuedMs);
  return std::to_string(token.lsn) + "." + std::to_string(static_cast<std::uint64_t>(ms));
}

Result<ReadToken> decode_read_token(std::string_view text) {
  if (text.size() > kMaxTokenLength) return invalid_argument("read token: too long");
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return invalid_argument("read token: expected <lsn>.<issued_ms>");
  CS_ASSIGN_OR_RETURN(std::uint64_t lsn, parse_decimal(text.substr(0, dot), "lsn"));
  CS_ASSIGN_OR_RETURN(std::uint64_t ms, parse_decimal(text.substr(dot + 1), "issued_ms"));
  if (ms > kMaxIssuedMs) return invalid_argument("read token: issued_ms out of range");
  return ReadToken{lsn, static_cast<double>(ms) / 1000.0};
}

}  // namespace chatscale
