#include "sim/report/report_md.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

Summary summary() {
  Summary s;
  s.scenario = "chatgpt-2026";
  s.sample_factor = 0.001;
  s.seed = 1;
  s.simulated_seconds = 86'400;
  s.wall_seconds = 300;
  s.events = 2'400'000;
  s.messages_total = 2.5e9;
  s.peak_messages_per_s = 70'800;
  s.ttft_p50_s = 0.42;
  s.ttft_p99_s = 1.7;
  s.availability = 0.99951;
  s.storage_bytes_per_day = 1.5e12;
  s.extra = {{"cost_dollars_gpu", 1'234'567}, {"gpu_count", 17'500}};
  return s;
}

std::vector<ReportRow> rows() {
  ReportRow peak;
  peak.section = "streams and bandwidth";
  peak.figure = "Peak messages per second";
  peak.simulated = 70'800;
  peak.reference = 69'444;
  peak.unit = "/s";
  peak.arithmetic = "2.5e9 x 0.20 / 7200 s = 69,444/s";
  ReportRow lag;
  lag.section = "Database";
  lag.figure = "Replica lag p99";
  lag.simulated = 3.1;
  lag.reference = 1;
  lag.unit = "s";
  lag.check = Check::kAtMost;
  lag.arithmetic = "WAL 40 MB/s | apply 60 MB/s";
  ReportRow regions;
  regions.section = "Regions";
  regions.figure = "Regions";
  regions.simulated = 6;
  regions.reference = 6;
  regions.check = Check::kInfo;
  regions.headline = false;
  return {peak, lag, regions};
}

TEST(ReportMdTest, VerdictsCarryTheRatio) {
  auto r = rows();
  Verdict peak = judge(r[0]);
  EXPECT_TRUE(peak.holds);
  EXPECT_NEAR(peak.ratio, 70'800.0 / 69'444, 1e-12);
  EXPECT_EQ(peak.text, "holds (x1.02)");
  Verdict lag = judge(r[1]);
  EXPECT_FALSE(lag.holds);
  EXPECT_EQ(lag.text, "breaks (x3.1)");
  EXPECT_EQ(judge(r[2]).text, "-");
  ReportRow lost;
  lost.simulated = 0;
  lost.reference = 0;
  lost.check = Check::kAtMost;
  EXPECT_EQ(judge(lost).text, "holds");
  lost.simulated = 3;
  EXPECT_EQ(judge(lost).text, "breaks");
  ReportRow floor;
  floor.simulated = 0.9990;
  floor.reference = 0.9995;
  floor.check = Check::kAtLeast;
  EXPECT_FALSE(judge(floor).holds);
  ReportRow missing;
  missing.reference = 1;
  EXPECT_EQ(judge(missing).text, "n/a");
  ReportRow far;
  far.simulated = 1.2;
  far.reference = 1;
  EXPECT_FALSE(judge(far).holds);
  far.tolerance = 0.25;
  EXPECT_TRUE(judge(far).holds);
}

TEST(ReportMdTest, ValuesFormatByUnit) {
  EXPECT_EQ(format_value(69'444.4, "/s"), "69,444 /s");
  EXPECT_EQ(format_value(0.85, "s"), "850 ms");
  EXPECT_EQ(format_value(1.5e12, "B"), "1.5 TB");
  EXPECT_EQ(format_value(0.99951, "%"), "99.95%");
  EXPECT_EQ(format_value(1'234'567, "$"), "$1,234,567");
  EXPECT_EQ(format_value(12.5, "$"), "$12.50");
  EXPECT_EQ(format_value(0.333, "Gbps"), "0.333 Gbps");
  EXPECT_EQ(format_value(std::nan(""), "s"), "n/a");
}

TEST(ReportMdTest, ReportHasTheHeadlineRowsSectionsAndFigures) {
  ReportOptions o;
  o.figures = {{"latency", "TTFT over the day", "ttft.svg"}, {"streams and bandwidth", "Messages/s", "messages.svg"}};
  o.notes = {"Sampling 1/1000; shared singletons see the full load."};
  std::string md = render_report_md(summary(), rows(), o);
  EXPECT_EQ(md.rfind("# Capacity report: chatgpt-2026\n", 0), 0u);
  EXPECT_NE(md.find("sample factor 1/1,000"), std::string::npos);
  EXPECT_NE(md.find("8,000 per second"), std::string::npos);
  EXPECT_NE(md.find("| Peak messages per second | 70,800 /s | 69,444 /s | 2.5e9 x 0.20 / 7200 s = 69,444/s | "
                    "holds (x1.02) |"),
            std::string::npos);
  EXPECT_NE(md.find("WAL 40 MB/s \\| apply 60 MB/s"), std::string::npos);
  EXPECT_NE(md.find("breaks (x3.1)"), std::string::npos);
  // Headline first, then the fixed sections in order, then the others.
  size_t headline = md.find("## Headline"), latency = md.find("## Latency"), db = md.find("## Database"),
         streams = md.find("## Streams and bandwidth"), cost = md.find("## Cost"),
         availability = md.find("## Availability"), regions = md.find("## Regions"), other = md.find("## Other"),
         notes = md.find("## Notes");
  EXPECT_LT(headline, latency);
  EXPECT_LT(latency, db);
  EXPECT_LT(db, streams);
  EXPECT_LT(streams, cost);
  EXPECT_LT(cost, availability);
  EXPECT_LT(availability, regions);
  EXPECT_LT(regions, other);
  EXPECT_LT(other, notes);
  // The Regions row is not a headline row: it appears once, in its own section.
  EXPECT_EQ(md.find("| Regions |"), md.rfind("| Regions |"));
  EXPECT_GT(md.find("| Regions |"), regions);
  EXPECT_NE(md.find("- Time to first token p99: 1.7 s"), std::string::npos);
  EXPECT_NE(md.find("- Storage growth per day: 1.5 TB"), std::string::npos);
  EXPECT_NE(md.find("- Availability: 99.95%"), std::string::npos);
  EXPECT_NE(md.find("- cost_dollars_gpu: $1,234,567"), std::string::npos);
  EXPECT_NE(md.find("- gpu_count: 17,500"), std::string::npos);
  EXPECT_GT(md.find("![TTFT over the day](ttft.svg)"), latency);
  EXPECT_LT(md.find("![TTFT over the day](ttft.svg)"), db);
  EXPECT_GT(md.find("![Messages/s](messages.svg)"), streams);
  EXPECT_NE(md.find("Sampling 1/1000; shared singletons see the full load."), std::string::npos);
}

TEST(ReportMdTest, NoRowsSaysSo) {
  std::string md = render_report_md(summary(), {});
  EXPECT_NE(md.find("No reference figures were given"), std::string::npos);
  EXPECT_FALSE(write_report_md("/nonexistent-dir/report.md", summary(), {}).is_ok());
}

}  // namespace
}  // namespace chatscale::sim
