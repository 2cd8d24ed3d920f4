#include "sim/report/openmetrics.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

using M = MetricId;
namespace fs = std::filesystem;

std::string render(const Recorder& rec, const OpenMetricsOptions& options = {}) {
  RunInfo info;  // t = 0 is 2026-01-05 17:00 UTC = 1767632400
  std::ostringstream out;
  write_openmetrics(out, rec, info, options);
  return out.str();
}

// The lines of one family: from its TYPE line up to the next TYPE line or # EOF.
std::string family_block(const std::string& text, const std::string& family) {
  auto start = text.find("# TYPE " + family + " ");
  if (start == std::string::npos) return "";
  auto end = text.find("# TYPE ", start + 1);
  if (end == std::string::npos) end = text.find("# EOF", start);
  return text.substr(start, end - start);
}

std::string help(M id) { return std::string(metric_def(id).help); }

class TinyRecorder : public ::testing::Test {
 protected:
  void SetUp() override {
    rec_.sampled().add(M::kMessages, {"free", "ok"}, 1);             // 2 at f = 0.5
    rec_.full_scale().add(M::kMessages, {"plus", "rate_limited"}, 3);
    rec_.snapshot(0);
    rec_.sampled().add(M::kMessages, {"free", "ok"}, 1);
    rec_.full_scale().set(M::kActiveStreams, {}, 7);
    rec_.full_scale().observe(M::kGpuBatchSize, {"c\"1\\"}, 3);
    rec_.snapshot(15.5);
  }
  Recorder rec_{0.5};
};

TEST_F(TinyRecorder, CounterFamilyIsExact) {
  std::string text = render(rec_);
  EXPECT_EQ(family_block(text, "chatscale_messages"),
            "# TYPE chatscale_messages counter\n"
            "# HELP chatscale_messages " + help(M::kMessages) + "\n"
            "chatscale_messages_total{mode=\"sim\",tier=\"free\",outcome=\"ok\"} 2 1767632400.000\n"
            "chatscale_messages_total{mode=\"sim\",tier=\"free\",outcome=\"ok\"} 4 1767632415.500\n"
            "chatscale_messages_total{mode=\"sim\",tier=\"plus\",outcome=\"rate_limited\"} 3 1767632400.000\n"
            "chatscale_messages_total{mode=\"sim\",tier=\"plus\",outcome=\"rate_limited\"} 3 1767632415.500\n");
}

TEST_F(TinyRecorder, GaugeFamilyStartsAtItsFirstSnapshot) {
  EXPECT_EQ(family_block(render(rec_), "chatscale_active_streams"),
            "# TYPE chatscale_active_streams gauge\n"
            "# HELP chatscale_active_streams " + help(M::kActiveStreams) + "\n"
            "chatscale_active_streams{mode=\"sim\"} 7 1767632415.500\n");
}

TEST_F(TinyRecorder, HistogramFamilyIsExactWithEscapedLabels) {
  std::string labels = "{mode=\"sim\",cluster=\"c\\\"1\\\\\"";
  std::string ts = " 1767632415.500\n";
  std::string expected = "# TYPE chatscale_gpu_batch_size histogram\n"
                         "# HELP chatscale_gpu_batch_size " + help(M::kGpuBatchSize) + "\n";
  for (const char* le : {"1", "2"}) expected += "chatscale_gpu_batch_size_bucket" + labels + ",le=\"" + le + "\"} 0" + ts;
  for (const char* le : {"4", "8", "16", "32", "64", "128", "256", "512", "1024", "+Inf"})
    expected += "chatscale_gpu_batch_size_bucket" + labels + ",le=\"" + le + "\"} 1" + ts;
  expected += "chatscale_gpu_batch_size_count" + labels + "} 1" + ts;
  expected += "chatscale_gpu_batch_size_sum" + labels + "} 3" + ts;
  EXPECT_EQ(family_block(render(rec_), "chatscale_gpu_batch_size"), expected);
}

TEST_F(TinyRecorder, EveryFamilyHasMetadataAndTheFileEnds) {
  std::string text = render(rec_);
  for (const MetricDef& def : metric_catalogue()) {
    std::string family = openmetrics_family_name(def);
    std::string block = family_block(text, family);
    EXPECT_FALSE(block.empty()) << family;
    EXPECT_NE(block.find("# HELP " + family + " "), std::string::npos) << family;
  }
  EXPECT_NE(text.find("# UNIT chatscale_time_to_first_token_seconds seconds\n"), std::string::npos);
  EXPECT_NE(text.find("# UNIT chatscale_stream_egress_bytes bytes\n"), std::string::npos);
  EXPECT_NE(text.find("# UNIT chatscale_cost_dollars dollars\n"), std::string::npos);
  EXPECT_NE(text.find("# UNIT chatscale_gpu_utilization_ratio ratio\n"), std::string::npos);
  EXPECT_EQ(text.find("# UNIT chatscale_gpus "), std::string::npos);
  ASSERT_GE(text.size(), 6u);
  EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
}

TEST(OpenMetricsTest, NamesUnitsAndEscapes) {
  EXPECT_EQ(openmetrics_family_name(metric_def(M::kMessages)), "chatscale_messages");
  EXPECT_EQ(openmetrics_family_name(metric_def(M::kActiveStreams)), "chatscale_active_streams");
  EXPECT_EQ(openmetrics_unit(metric_def(M::kDbReplicaLag)), "seconds");
  EXPECT_EQ(openmetrics_unit(metric_def(M::kGpuBatchSize)), "");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(OpenMetricsTest, MinStepThinsAndEqualMillisecondsCollapse) {
  Recorder rec;
  rec.full_scale().add(M::kMessagesLost, {}, 1);
  for (double t : {0.0, 0.0002, 5.0, 10.0, 15.0, 20.0}) rec.snapshot(t);
  std::string all = family_block(render(rec), "chatscale_messages_lost");
  EXPECT_EQ(all.find("1767632400.000"), all.rfind("1767632400.000"));  // 0.0002 s rounds onto 0: dropped
  EXPECT_NE(all.find("1767632405.000"), std::string::npos);
  std::string thin = family_block(render(rec, {.min_step_s = 10}), "chatscale_messages_lost");
  EXPECT_NE(thin.find("1767632410.000"), std::string::npos);
  EXPECT_NE(thin.find("1767632420.000"), std::string::npos);
  EXPECT_EQ(thin.find("1767632405.000"), std::string::npos);
  EXPECT_EQ(thin.find("1767632415.000"), std::string::npos);
}

TEST(OpenMetricsTest, WriteFailsOnAnUnwritablePath) {
  Recorder rec;
  Status s = write_openmetrics("/nonexistent-dir/metrics.om", rec, RunInfo{});
  EXPECT_FALSE(s.is_ok());
}

// Three hours of every kind of series, every minute: more than one 2 h TSDB block.
void fill_day(Recorder& rec) {
  for (int minute = 0; minute <= 180; ++minute) {
    double t = 60.0 * minute;
    rec.sampled().add(M::kMessages, {"free", "ok"}, 50);
    rec.sampled().add(M::kMessages, {"plus", "moderated"}, 1);
    rec.sampled().observe(M::kTimeToFirstToken, {"free"}, 0.2 + 0.001 * minute);
    rec.full_scale().set(M::kDbReplicaLag, {"us-east/replica-\"1\""}, 0.01 * (minute % 7));
    rec.full_scale().add(M::kStreamEgressBytes, {}, 1e9);
    if (minute > 90) rec.full_scale().add(M::kCostDollars, {"gpu"}, 12.5);  // a series that starts late
    rec.snapshot(t);
  }
}

TEST(OpenMetricsTest, PromtoolLoadsTheFile) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool is not installed";
  Recorder rec(0.01);
  fill_day(rec);
  fs::path dir = fs::path(::testing::TempDir()) / ("chatscale_om_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string file = (dir / "metrics.om").string();
  ASSERT_TRUE(write_openmetrics(file, rec, RunInfo{}).is_ok());
  std::string blocks = (dir / "blocks").string();
  std::string log = (dir / "promtool.log").string();
  int rc = std::system(("promtool tsdb create-blocks-from openmetrics '" + file + "' '" + blocks + "' >'" + log +
                        "' 2>&1").c_str());
  std::ifstream log_in(log);
  std::stringstream log_text;
  log_text << log_in.rdbuf();
  EXPECT_EQ(rc, 0) << log_text.str();
  std::string dump = (dir / "dump.txt").string();
  fs::create_directories(dir / "blocks" / "wal");  // `tsdb dump` opens a database, which needs a WAL folder
  ASSERT_EQ(std::system(("promtool tsdb dump '" + blocks + "' >'" + dump + "' 2>&1").c_str()), 0);
  std::ifstream dump_in(dump);
  std::stringstream dump_text;
  dump_text << dump_in.rdbuf();
  // The last messages sample: 181 minutes x 50 / 0.01 = 905,000 at 17:00 + 3 h.
  EXPECT_NE(dump_text.str().find("905000 1767643200000"), std::string::npos);
  EXPECT_NE(dump_text.str().find("chatscale_time_to_first_token_seconds_bucket"), std::string::npos);
  EXPECT_NE(dump_text.str().find("mode=\"sim\""), std::string::npos);
  EXPECT_NE(dump_text.str().find("replica=\"us-east/replica-\\\"1\\\"\"} 0.01 1767632460000"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace chatscale::sim
