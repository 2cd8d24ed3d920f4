#include "sim/report/figures.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/report/openmetrics.h"
#include "sim/report/summary.h"

namespace chatscale::sim {
namespace {

using M = MetricId;
namespace fs = std::filesystem;

void fill(Recorder& rec) {
  rec.snapshot(0);
  rec.full_scale().add(M::kMessages, {"free", "ok"}, 600);
  rec.full_scale().add(M::kMessages, {"free", "rate_limited"}, 60);
  rec.full_scale().add(M::kDbQueries, {"primary", "write"}, 1200);
  rec.full_scale().add(M::kDbQueries, {"replica", "read"}, 6000);
  rec.full_scale().set(M::kDbReplicaLag, {"r1"}, 0.2);
  rec.full_scale().set(M::kDbReplicaLag, {"r2"}, 0.4);
  rec.full_scale().add(M::kStreamEgressBytes, {}, 7.5e9);
  rec.full_scale().set(M::kActiveStreams, {}, 40);
  for (int i = 0; i < 10; ++i) rec.full_scale().observe(M::kTimeToFirstToken, {"free"}, 0.3);
  rec.snapshot(60);
}

TEST(FiguresTest, StandardFiguresHoldTheExpectedSeries) {
  Recorder rec;
  fill(rec);
  std::vector<Figure> figs = standard_figures(rec, 0);
  ASSERT_EQ(figs.size(), 6u);
  EXPECT_EQ(standard_figures(rec)[1].title, "Time to first token, per 5 min window");
  EXPECT_EQ(standard_figures(rec)[1].series[0].size(), 0u);  // no 5-minute span in a 1-minute run
  EXPECT_EQ(figs[0].file, "messages_per_s.svg");
  ASSERT_EQ(figs[0].series.size(), 2u);
  EXPECT_EQ(figs[0].series[0].v, (std::vector<double>{11}));  // 660 messages over 60 s
  EXPECT_EQ(figs[0].series[1].v, (std::vector<double>{10}));  // 600 ok
  EXPECT_EQ(figs[1].series[1].name, "p99");
  ASSERT_EQ(figs[1].series[0].size(), 1u);
  EXPECT_GT(figs[1].series[0].v[0], 0.25);  // all ten in (0.25, 0.5]
  EXPECT_LE(figs[1].series[0].v[0], 0.5);
  ASSERT_EQ(figs[3].series.size(), 2u);  // one line per replica
  EXPECT_EQ(figs[3].series[1].name, "r2");
  ASSERT_EQ(figs[4].series.size(), 2u);  // primary and replica
  EXPECT_EQ(figs[4].series[0].name, "primary");
  EXPECT_EQ(figs[4].series[0].v, (std::vector<double>{20}));
  EXPECT_EQ(figs[4].series[1].v, (std::vector<double>{100}));
  EXPECT_DOUBLE_EQ(figs[5].series[0].v[0], 1);  // 7.5e9 B / 60 s = 1 Gbps
}

TEST(FiguresTest, TtftComesFromExactSamplesWhenThereAreAny) {
  Recorder rec;
  fill(rec);
  for (int i = 1; i <= 5; ++i) rec.sample(SampleKind::kTimeToFirstToken, 0.1 * i, 10);
  Figure ttft = standard_figures(rec, 0)[1];
  EXPECT_EQ(ttft.title, "Time to first token, exact samples per 60 s window");
  ASSERT_EQ(ttft.series[0].size(), 1u);
  EXPECT_EQ(ttft.series[0].t[0], 60);
  EXPECT_NEAR(ttft.series[0].v[0], 0.3, 1e-6);
  EXPECT_NEAR(ttft.series[1].v[0], 0.496, 1e-6);  // rank 3.96: 0.4 + 0.96 x 0.1
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(FiguresTest, AllWritersFillAnOutputFolder) {
  Recorder rec(0.5);
  fill(rec);
  RunInfo info;
  info.scenario = "tiny";
  info.simulated_seconds = 60;
  fs::path dir = fs::path(::testing::TempDir()) / ("chatscale_fig_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto links = write_figures(standard_figures(rec), info, dir.string());
  ASSERT_TRUE(links.is_ok()) << links.status().to_string();
  ASSERT_EQ(links->size(), 6u);
  EXPECT_EQ((*links)[3].section, "database");
  for (const auto& l : *links) EXPECT_EQ(read(dir / l.file).rfind("<svg", 0), 0u) << l.file;
  // One rate point at t = 60 s (17:01), drawn a minute either side.
  EXPECT_NE(read(dir / "messages_per_s.svg").find(">17:01:00</text>"), std::string::npos);
  Summary s;
  s.scenario = info.scenario;
  s.simulated_seconds = info.simulated_seconds;
  s.messages_total = 660;
  ASSERT_TRUE(write_summary_json((dir / "summary.json").string(), s).is_ok());
  ASSERT_TRUE(write_openmetrics((dir / "metrics.om").string(), rec, info).is_ok());
  ReportOptions o;
  o.figures = *links;
  ASSERT_TRUE(write_report_md((dir / "report.md").string(), s, {}, o).is_ok());
  EXPECT_NE(read(dir / "report.md").find("![Replica lag per replica](replica_lag.svg)"), std::string::npos);
  EXPECT_EQ(read_summary_json((dir / "summary.json").string())->messages_total, 660);
  EXPECT_FALSE(write_figures(standard_figures(rec), info, (dir / "missing").string()).is_ok());
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace chatscale::sim
