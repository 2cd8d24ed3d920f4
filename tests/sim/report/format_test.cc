#include "sim/report/format.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

TEST(FormatTest, ThousandsSeparators) {
  EXPECT_EQ(format_thousands(69444.4), "69,444");
  EXPECT_EQ(format_thousands(2'500'000'000), "2,500,000,000");
  EXPECT_EQ(format_thousands(1234.5, 1), "1,234.5");
  EXPECT_EQ(format_thousands(-1000), "-1,000");
  EXPECT_EQ(format_thousands(999), "999");
  EXPECT_EQ(format_thousands(-0.2), "0");
  EXPECT_EQ(format_thousands(std::nan("")), "n/a");
}

TEST(FormatTest, SiPrefixes) {
  EXPECT_EQ(format_si(69444, "/s"), "69.4 k/s");
  EXPECT_EQ(format_si(2.5e9, "B"), "2.5 GB");
  EXPECT_EQ(format_si(0.0123, "s"), "12.3 ms");
  EXPECT_EQ(format_si(69444), "69.4k");
  EXPECT_EQ(format_si(12), "12");
  EXPECT_EQ(format_si(999.96), "1k");  // rounding carries into the next prefix
  EXPECT_EQ(format_si(0), "0");
  EXPECT_EQ(format_si(-1.5e6, "W"), "-1.5 MW");
  EXPECT_EQ(format_si(4.2e-6, "s"), "4.2 \xC2\xB5s");
}

TEST(FormatTest, SignificantPercentDurationRatio) {
  EXPECT_EQ(format_significant(0.012345), "0.0123");
  EXPECT_EQ(format_significant(69444), "69,400");
  EXPECT_EQ(format_percent(0.1234), "12.3%");
  EXPECT_EQ(format_percent(0.999, 2), "99.90%");
  EXPECT_EQ(format_duration(0.85), "850 ms");
  EXPECT_EQ(format_duration(1.234), "1.23 s");
  EXPECT_EQ(format_duration(750), "12.5 min");
  EXPECT_EQ(format_duration(9000), "2.5 h");
  EXPECT_EQ(format_duration(86'400 * 3), "3 d");
  EXPECT_EQ(format_bytes(2.5e12), "2.5 TB");
  EXPECT_EQ(format_ratio(1.0234), "x1.02");
  EXPECT_EQ(format_ratio(31.4), "x31.4");
}

TEST(FormatTest, ShortestRoundTrip) {
  EXPECT_EQ(format_shortest(0.1), "0.1");
  EXPECT_EQ(format_shortest(2560), "2560");
  EXPECT_EQ(format_shortest(1e-5), "1e-05");
  EXPECT_EQ(format_shortest(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_shortest(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_shortest(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_shortest(std::nan("")), "NaN");
}

TEST(FormatTest, MarkdownCell) { EXPECT_EQ(markdown_cell("a | b\nc"), "a \\| b c"); }

}  // namespace
}  // namespace chatscale::sim
