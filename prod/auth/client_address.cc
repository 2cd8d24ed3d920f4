#include "prod/auth/client_address.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace chatscale::auth {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

std::optional<Bytes> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
  return address.to_v6().to_bytes();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string canonical(const Bytes& bytes) {
  boost::asio::ip::address_v6 v6(bytes);
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  return v6.to_string();
}

}  // namespace

Result<CidrList> parse_cidrs(std::string_view text) {
  CidrList out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find_first_of(", \t", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    std::string_view host = item.substr(0, item.find('/'));
    auto bytes = parse_address(host);
    if (!bytes) return invalid_argument("'" + std::string(item) + "' is not an address or CIDR");
    const bool v4 = host.find(':') == std::string_view::npos;
    Cidr cidr{*bytes, 128};
    if (host.size() < item.size()) {
      std::string_view bits = item.substr(host.size() + 1);
      int n = -1;
      auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
      if (ec != std::errc() || ptr != bits.data() + bits.size() || n < 0 || n > (v4 ? 32 : 128))
        return invalid_argument("'" + std::string(item) + "' has a bad prefix length");
      cidr.prefix_bits = v4 ? n + 96 : n;
    }
    out.push_back(cidr);
  }
  return out;
}

std::optional<Bytes> parse_peer(std::string_view peer) {
  peer = trim(peer);
  if (peer.empty()) return std::nullopt;
  if (peer.front() == '[') {  // [v6]:port or [v6]
    std::size_t close = peer.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_address(peer.substr(1, close - 1));
  }
  if (auto whole = parse_address(peer)) return whole;  // a bare v4 or v6 address
  std::size_t colon = peer.rfind(':');
  if (colon == std::string_view::npos || peer.find(':') != colon) return std::nullopt;
  return parse_address(peer.substr(0, colon));  // v4:port
}

bool contains(const CidrList& networks, const Bytes& address) {
  for (const Cidr& net : networks) {
    bool match = true;
    for (int bit = 0; bit < net.prefix_bits && match; ++bit) {
      const int byte = bit / 8, mask = 0x80 >> (bit % 8);
      match = (address[byte] & mask) == (net.address[byte] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const CidrList& trusted_proxies) {
  auto peer_bytes = parse_peer(peer);
  if (!peer_bytes) return std::string(peer);
  // Proxies append the address they received from, so only the right end of the list is trustworthy:
  // walk it from the right while the hops are trusted proxies; the first hop that is not one is the
  // client. Entries left of it are whatever the client sent and are never read. A malformed entry
  // stops the walk at the last trusted hop.
  Bytes client = *peer_bytes;
  if (!forwarded_for || !contains(trusted_proxies, client)) return canonical(client);
  std::string_view rest = *forwarded_for;
  while (contains(trusted_proxies, client)) {
    if (trim(rest).empty()) break;  // every hop was a trusted proxy: the leftmost one is the client
    const std::size_t comma = rest.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    auto hop = parse_peer(entry);
    if (!hop) break;
    client = *hop;
  }
  return canonical(client);
}

}  // namespace chatscale::auth
