// The client address a request counts against (per-IP limits on the auth routes): the socket peer,
// or, only when the peer is a trusted proxy (a configured CIDR list), the rightmost X-Forwarded-For
// hop that is not itself a trusted proxy (proxies append the address they received from, so entries
// left of that one are the client's own words and are ignored). A client cannot choose its address
// by sending X-Forwarded-For, through a trusted proxy or not. A malformed entry stops the walk at the
// last trusted hop.
//
// Ownership: plain values. Thread-safety: pure functions; a CidrList is immutable after parsing.
// Failure behaviour: parse_cidrs returns InvalidArgument naming the bad entry; nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale::auth {

// An IPv4 or IPv6 network. IPv4 addresses are kept as IPv4-mapped IPv6 (::ffff:a.b.c.d), so
// "10.0.0.0/8" also matches a peer written as ::ffff:10.1.2.3.
struct Cidr {
  std::array<std::uint8_t, 16> address{};
  int prefix_bits = 128;
};

using CidrList = std::vector<Cidr>;

// "10.0.0.0/8, 192.168.1.7 ::1/128" (commas and/or spaces); an address without /N is one host.
Result<CidrList> parse_cidrs(std::string_view text);

// The address part of "1.2.3.4:5678", "[::1]:5678", "1.2.3.4" or "::1"; nullopt when not an address.
std::optional<std::array<std::uint8_t, 16>> parse_peer(std::string_view peer);

bool contains(const CidrList& networks, const std::array<std::uint8_t, 16>& address);

// The canonical text of the address requests are counted against (see the header comment).
std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const CidrList& trusted_proxies);

}  // namespace chatscale::auth
