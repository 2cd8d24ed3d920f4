#include "replica/read_token.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace chatscale {
namespace {

TEST(ReadToken, EncodesAsLsnDotMilliseconds) {
  EXPECT_EQ(encode_read_token({16912345, 1718000000.123}), "16912345.1718000000123");
  EXPECT_EQ(encode_read_token({0, 0}), "0.0");
  EXPECT_EQ(encode_read_token({7, 2.0004}), "7.2000");  // rounded to the millisecond
  EXPECT_EQ(encode_read_token({7, 2.0006}), "7.2001");
}

TEST(ReadToken, RoundTrips) {
  for (ReadToken t : {ReadToken{1, 0.001}, ReadToken{16912345, 1718000000.123}, ReadToken{42, 12.5},
                      ReadToken{std::numeric_limits<Lsn>::max(), 1.0}, ReadToken{0, 0}}) {
    auto decoded = decode_read_token(encode_read_token(t));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, t) << encode_read_token(t);
  }
}

TEST(ReadToken, BadTimesEncodeAsZero) {
  EXPECT_EQ(encode_read_token({5, -3.0}), "5.0");
  EXPECT_EQ(encode_read_token({5, std::numeric_limits<double>::quiet_NaN()}), "5.0");
  EXPECT_EQ(encode_read_token({5, std::numeric_limits<double>::infinity()}), "5.0");
}

TEST(ReadToken, GarbageIsAnErrorNotACrash) {
  const std::string garbage[] = {
      "", ".", "12", "12.", ".12", "a.b", "12.3x", "x12.3", "-1.5", "1.-5", "+1.5", " 1.5", "1.5 ",
      "1..5", "1.2.3", "01.5", "1.05", "18446744073709551616.1",  // LSN overflows u64
      "1.9007199254740993",                                        // past 2^53 milliseconds
      "1.99999999999999999999999", std::string(100, '9'), std::string("1\0.5", 4), "1,5", "0x1.5",
  };
  for (const std::string& g : garbage) {
    auto r = decode_read_token(g);
    EXPECT_FALSE(r.is_ok()) << "accepted '" << g << "'";
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << g;
    }
  }
}

TEST(ReadToken, AcceptsTheLimits) {
  auto max_lsn = decode_read_token("18446744073709551615.9007199254740992");
  ASSERT_TRUE(max_lsn.is_ok());
  EXPECT_EQ(max_lsn->lsn, std::numeric_limits<Lsn>::max());
  EXPECT_EQ(max_lsn->issued_at, 9007199254740.992);
  auto zero = decode_read_token("0.0");
  ASSERT_TRUE(zero.is_ok());
  EXPECT_EQ(*zero, (ReadToken{0, 0}));
}

}  // namespace
}  // namespace chatscale
