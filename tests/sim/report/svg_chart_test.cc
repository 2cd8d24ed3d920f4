#include "sim/report/svg_chart.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

// Checks that every element opened is closed in order (a parse-ish well-formedness check).
bool balanced(const std::string& svg, std::string* why) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    size_t end = svg.find('>', pos);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag.back() == '/') continue;  // self-closing
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return *why = "unexpected </" + name + ">", false;
      stack.pop_back();
      continue;
    }
    stack.push_back(tag.substr(0, tag.find(' ')));
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  return true;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::vector<TimeSeries> day_series() {
  TimeSeries p50{"p50", {}, {}}, p99{"p99 <&>", {}, {}};
  for (int i = 0; i <= 96; ++i) {
    double t = 900.0 * i;
    p50.t.push_back(t);
    p50.v.push_back(0.3 + 0.1 * std::sin(i / 10.0));
    p99.t.push_back(t);
    p99.v.push_back(i == 50 ? std::nan("") : 1.2 + 0.3 * std::sin(i / 10.0));
  }
  return {p50, p99};
}

TEST(SvgChartTest, WellFormedWithSeriesLegendAndTimeOfDayAxis) {
  ChartOptions o;
  o.time_of_day_offset_s = 17 * 3600.0;
  std::string svg = render_svg_line_chart("TTFT <p50 & p99>", "time of day (UTC)", "seconds", day_series(), o);
  ASSERT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  std::string why;
  EXPECT_TRUE(balanced(svg, &why)) << why;
  EXPECT_NE(svg.find("TTFT &lt;p50 &amp; p99&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">p50</text>"), std::string::npos);      // legend
  EXPECT_NE(svg.find(">p99 &lt;&amp;&gt;</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "<path "), 2u);
  EXPECT_NE(svg.find(">18:00</text>"), std::string::npos);  // 17:00 + 1 h, 3 h ticks from 18:00
  EXPECT_NE(svg.find(">15:00</text>"), std::string::npos);  // wraps past midnight
  // The NaN point breaks the p99 line into two pieces.
  size_t p99 = svg.find("stroke=\"#ff7f0e\" stroke-width=\"1.5\"");
  ASSERT_NE(p99, std::string::npos);
  size_t d = svg.rfind("<path d=\"", p99);
  EXPECT_EQ(count(svg.substr(d, p99 - d), "M"), 2u);
}

TEST(SvgChartTest, LongSeriesAreThinned) {
  TimeSeries s{"dense", {}, {}};
  for (int i = 0; i < 50'000; ++i) {
    s.t.push_back(i);
    s.v.push_back(i % 2 == 0 ? 1 : 3);
  }
  std::string svg = render_svg_line_chart("dense", "x", "y", {s});
  size_t points = count(svg, " L") + 1;
  EXPECT_LT(points, 4u * 960);
  EXPECT_GT(points, 700u);
  std::string why;
  EXPECT_TRUE(balanced(svg, &why)) << why;
}

TEST(SvgChartTest, NoDataStillMakesAChart) {
  std::string svg = render_svg_line_chart("empty", "x", "y", {TimeSeries{"none", {}, {}}});
  EXPECT_NE(svg.find("no data"), std::string::npos);
  std::string why;
  EXPECT_TRUE(balanced(svg, &why)) << why;
}

TEST(SvgChartTest, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 69'444), (std::vector<double>{0, 20'000, 40'000, 60'000, 80'000}));
  std::vector<double> unit = nice_ticks(0, 1);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * static_cast<double>(i), 1e-12);
  std::vector<double> flat = nice_ticks(5, 5);
  EXPECT_LE(flat.front(), 5);
  EXPECT_GE(flat.back(), 5);
  EXPECT_GT(flat.size(), 1u);
}

TEST(SvgChartTest, TimeTicksAndLabels) {
  std::vector<double> ticks = time_ticks(0, 86'400, 61'200);
  ASSERT_EQ(ticks.size(), 8u);
  EXPECT_EQ(ticks[0], 3600);  // 18:00
  EXPECT_EQ(ticks[1] - ticks[0], 10'800);
  EXPECT_EQ(time_ticks(0, 600, 0), (std::vector<double>{0, 120, 240, 360, 480, 600}));
  EXPECT_EQ(time_of_day_label(61'200 + 3600), "18:00");
  EXPECT_EQ(time_of_day_label(86'400 + 90), "00:01");
  EXPECT_EQ(time_of_day_label(3725, true), "01:02:05");
  EXPECT_EQ(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

}  // namespace
}  // namespace chatscale::sim
