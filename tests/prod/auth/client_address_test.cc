// The client address per-IP limits count against: the socket peer, or the first X-Forwarded-For hop
// only when the peer is a trusted proxy; CIDR parsing (v4, v6, v4-mapped, bad entries).
#include "prod/auth/client_address.h"

#include <gtest/gtest.h>

namespace chatscale::auth {
namespace {

CidrList cidrs(std::string_view text) {
  auto parsed = parse_cidrs(text);
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  return parsed.is_ok() ? *parsed : CidrList{};
}

TEST(ClientAddress, PeerUnlessTheProxyIsTrusted) {
  const CidrList trusted = cidrs("10.0.0.0/8, ::1");
  EXPECT_EQ(client_address("203.0.113.9:5000", std::nullopt, trusted), "203.0.113.9");
  EXPECT_EQ(client_address("203.0.113.9:5000", "198.51.100.1", trusted), "203.0.113.9") << "untrusted peer";
  EXPECT_EQ(client_address("10.1.2.3:443", "198.51.100.1, 10.9.9.9", trusted), "198.51.100.1");
  EXPECT_EQ(client_address("[::1]:8080", " 2001:db8::7 ", trusted), "2001:db8::7");
  EXPECT_EQ(client_address("[::ffff:10.0.0.5]:1", "198.51.100.2", trusted), "198.51.100.2") << "v4-mapped peer";
  EXPECT_EQ(client_address("10.1.2.3:443", "not an address", trusted), "10.1.2.3") << "junk falls back to the peer";
  EXPECT_EQ(client_address("10.1.2.3:443", "203.0.113.66, 198.51.100.1", trusted), "198.51.100.1")
      << "a forged leftmost entry is ignored: the proxy appended the real client";
  EXPECT_EQ(client_address("10.1.2.3:443", "203.0.113.66, 198.51.100.1, 10.4.4.4", trusted), "198.51.100.1")
      << "trusted hops are skipped from the right";
  EXPECT_EQ(client_address("10.1.2.3:443", "198.51.100.1, junk, 10.4.4.4", trusted), "10.4.4.4")
      << "a malformed entry stops the walk at the last trusted hop";
  EXPECT_EQ(client_address("10.1.2.3:443", "10.7.7.7, 10.4.4.4", trusted), "10.7.7.7")
      << "all hops trusted: the leftmost";
  EXPECT_EQ(client_address("11.0.0.1:443", "198.51.100.1", trusted), "11.0.0.1") << "outside the /8";
  EXPECT_EQ(client_address("127.0.0.1", std::nullopt, {}), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", "198.51.100.1", {}), "127.0.0.1") << "nothing trusted by default";
}

TEST(ClientAddress, CidrParsing) {
  EXPECT_EQ(cidrs("").size(), 0u);
  EXPECT_EQ(cidrs("192.168.0.0/16 172.16.0.0/12,fd00::/8").size(), 3u);
  EXPECT_FALSE(parse_cidrs("10.0.0.0/33").is_ok());
  EXPECT_FALSE(parse_cidrs("::/129").is_ok());
  EXPECT_FALSE(parse_cidrs("10.0.0.0/x").is_ok());
  EXPECT_FALSE(parse_cidrs("example.com").is_ok());
  const CidrList host = cidrs("192.168.1.7");
  EXPECT_TRUE(contains(host, *parse_peer("192.168.1.7:9")));
  EXPECT_FALSE(contains(host, *parse_peer("192.168.1.8:9")));
  EXPECT_TRUE(contains(cidrs("0.0.0.0/0"), *parse_peer("8.8.8.8")));
  EXPECT_FALSE(contains(cidrs("0.0.0.0/0"), *parse_peer("2001:db8::1"))) << "v4 /0 is every v4 address only";
  EXPECT_FALSE(parse_peer("[::1").has_value());
  EXPECT_FALSE(parse_peer("").has_value());
}

}  // namespace
}  // namespace chatscale::auth
