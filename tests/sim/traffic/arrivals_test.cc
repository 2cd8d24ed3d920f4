// ArrivalGenerator, MessageSizes and expected_traffic on the reference scenario. Statistical checks use
// fixed seeds; their bounds are 4-8 standard errors wide, far inside what a wrong rate, share or mean
// would produce.
#include "sim/traffic/arrivals.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

constexpr double kDay = DiurnalProfile::kDaySeconds;
constexpr double kHour = 3600.0;
constexpr double kF = 1e-3;

Scenario reference() {
  Result<Scenario> s = load_scenario_file(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/chatgpt-2026.yaml");
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.value();
}

DiurnalProfile profile_of(const Scenario& s) {
  Result<DiurnalProfile> p = DiurnalProfile::build(s);
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  return p.value();
}

ArrivalGenerator generator(const Scenario& s, const DiurnalProfile& p, std::uint64_t seed, double start_utc,
                           double f = kF) {
  Result<ArrivalGenerator> g = ArrivalGenerator::create(p, s, f, seed, start_utc);
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return std::move(g).value();
}

std::vector<ConversationStart> run(ArrivalGenerator& g, double until_s) {
  std::vector<ConversationStart> out;
  for (ConversationStart c = g.next(); c.time_s < until_s; c = g.next()) out.push_back(c);
  return out;
}

// Counts of starts per window of `width` seconds over [0, until).
std::vector<double> counts(const std::vector<ConversationStart>& starts, double width, double until) {
  std::vector<double> n(static_cast<std::size_t>(until / width), 0.0);
  for (const ConversationStart& c : starts) n[static_cast<std::size_t>(c.time_s / width)] += 1;
  return n;
}

double dispersion(const std::vector<double>& n) {
  double mean = 0, var = 0;
  for (double x : n) mean += x;
  mean /= static_cast<double>(n.size());
  for (double x : n) var += (x - mean) * (x - mean);
  var /= static_cast<double>(n.size() - 1);
  return var / mean;
}

class ArrivalsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scenario_ = new Scenario(reference());
    profile_ = new DiurnalProfile(profile_of(*scenario_));
    ArrivalGenerator g = generator(*scenario_, *profile_, 11, 0.0);
    day_ = new std::vector<ConversationStart>(run(g, kDay));
  }
  static void TearDownTestSuite() {
    delete day_;
    delete profile_;
    delete scenario_;
  }
  static Scenario* scenario_;
  static DiurnalProfile* profile_;
  static std::vector<ConversationStart>* day_;  // one day from 00:00 UTC at f = 1e-3, seed 11
};
Scenario* ArrivalsTest::scenario_ = nullptr;
DiurnalProfile* ArrivalsTest::profile_ = nullptr;
std::vector<ConversationStart>* ArrivalsTest::day_ = nullptr;

TEST_F(ArrivalsTest, CountsPerWindowFollowTheIntegralOfTheRate) {
  const double width = 600;
  const std::vector<double> n = counts(*day_, width, kDay);
  double chi2 = 0;
  double total_expected = 0;
  for (std::size_t w = 0; w < n.size(); ++w) {
    const double a = static_cast<double>(w) * width;
    const double expected = kF / 5.0 * profile_->messages_between(a, a + width);
    chi2 += (n[w] - expected) * (n[w] - expected) / expected;
    total_expected += expected;
  }
  // 144 windows: chi-square mean 144, standard deviation 17.
  EXPECT_LT(chi2, 144 + 6 * 17) << chi2;
  EXPECT_NEAR(total_expected, 500'000, 1);
  EXPECT_NEAR(static_cast<double>(day_->size()), total_expected, 4 * std::sqrt(total_expected));
  for (std::size_t i = 1; i < day_->size(); ++i) ASSERT_GE((*day_)[i].time_s, (*day_)[i - 1].time_s);
}

TEST_F(ArrivalsTest, PoissonDispersionInThePlateau) {
  // One-minute counts inside the 18:00-20:00 plateau: constant rate, so variance / mean ~ 1.
  std::vector<ConversationStart> peak;
  for (const ConversationStart& c : *day_) {
    if (c.time_s >= 18 * kHour && c.time_s < 20 * kHour) peak.push_back({c.time_s - 18 * kHour, 0, 0, 1});
  }
  const std::vector<double> n = counts(peak, 60, 2 * kHour);
  EXPECT_NEAR(dispersion(n), 1.0, 0.4);  // 119 degrees of freedom: standard error 0.13
  double mean = 0;
  for (double x : n) mean += x / static_cast<double>(n.size());
  EXPECT_NEAR(mean, kF / 5.0 * 69'444.4 * 60, 4 * std::sqrt(mean / 120));
}

TEST_F(ArrivalsTest, UniformArrivalsHaveNoDispersion) {
  Scenario s = *scenario_;
  s.traffic.arrivals = ArrivalProcess::kUniform;
  ArrivalGenerator g = generator(s, *profile_, 3, 18 * kHour);
  const std::vector<double> n = counts(run(g, 2 * kHour), 60, 2 * kHour);
  EXPECT_LT(dispersion(n), 0.05);
  for (double x : n) EXPECT_NEAR(x, kF / 5.0 * 69'444.4 * 60, 1.01);
}

TEST_F(ArrivalsTest, RegionTierAndTurnShares) {
  const Scenario& s = *scenario_;
  std::vector<double> regions(s.regions.size(), 0.0), tiers(s.tiers.size(), 0.0);
  double turns = 0;
  for (const ConversationStart& c : *day_) {
    regions[static_cast<std::size_t>(c.region)] += 1;
    tiers[static_cast<std::size_t>(c.tier)] += 1;
    ASSERT_GE(c.turns, 1);
    turns += c.turns;
  }
  const double n = static_cast<double>(day_->size());
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const double p = s.regions[i].user_share;
    EXPECT_NEAR(regions[i] / n, p, 5 * std::sqrt(p * (1 - p) / n)) << s.regions[i].name;
  }
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const double p = s.tiers[i].share;
    EXPECT_NEAR(tiers[i] / n, p, 5 * std::sqrt(p * (1 - p) / n)) << s.tiers[i].name;
  }
  // Geometric turns, mean 5, variance 20; the day's messages are f x 2.5e9.
  EXPECT_NEAR(turns / n, 5.0, 6 * std::sqrt(20.0 / n));
  EXPECT_NEAR(turns, kF * 2.5e9, 0.01 * kF * 2.5e9);
}

TEST_F(ArrivalsTest, LocalClockRegionsFollowTheirInstantaneousRates) {
  Scenario s = *scenario_;
  s.traffic.clock = DiurnalClock::kLocal;
  const DiurnalProfile p = profile_of(s);
  ArrivalGenerator g = generator(s, p, 5, 0.0, 1e-2);
  // 13:00-15:00 UTC: ap-south's evening plateau; the other regions are off-peak.
  std::vector<double> regions(s.regions.size(), 0.0);
  double n = 0;
  for (const ConversationStart& c : run(g, 15 * kHour)) {
    if (c.time_s < 13 * kHour) continue;
    regions[static_cast<std::size_t>(c.region)] += 1;
    n += 1;
  }
  const double total = p.messages_between(13 * kHour, 15 * kHour);
  EXPECT_NEAR(n, 1e-2 / 5 * total, 5 * std::sqrt(n));
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const double share = p.region_messages_between(i, 13 * kHour, 15 * kHour) / total;
    EXPECT_NEAR(regions[i] / n, share, 5 * std::sqrt(share * (1 - share) / n)) << s.regions[i].name;
  }
  EXPECT_GT(p.region_messages_between(4, 13 * kHour, 15 * kHour) / total, 0.5);  // ap-south dominates
}

TEST_F(ArrivalsTest, StartTimeShiftsTheProfile) {
  ArrivalGenerator g = generator(*scenario_, *profile_, 9, 18 * kHour);
  EXPECT_NEAR(g.conversation_rate(10), kF / 5 * profile_->rate(18 * kHour + 10), 1e-12);
  const double n = static_cast<double>(run(g, kHour).size());  // the first hour is the plateau
  EXPECT_NEAR(n, kF / 5 * 69'444.4 * kHour, 4 * std::sqrt(n));
}

TEST_F(ArrivalsTest, DeterministicForASeedAndIndependentOfThinkTimes) {
  ArrivalGenerator a = generator(*scenario_, *profile_, 42, 0.0);
  ArrivalGenerator b = generator(*scenario_, *profile_, 42, 0.0);
  ArrivalGenerator c = generator(*scenario_, *profile_, 43, 0.0);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    (void)b.think_time_s();  // the think-time stream is separate
    const ConversationStart x = a.next(), y = b.next(), z = c.next();
    ASSERT_EQ(x.time_s, y.time_s);
    ASSERT_EQ(x.region, y.region);
    ASSERT_EQ(x.tier, y.tier);
    ASSERT_EQ(x.turns, y.turns);
    differ += x.time_s != z.time_s;
  }
  EXPECT_GT(differ, 990);
}

TEST_F(ArrivalsTest, ThinkTimeIsExponentialWithTheScenarioMean) {
  ArrivalGenerator g = generator(*scenario_, *profile_, 1, 0.0);
  double sum = 0, sq = 0;
  const int n = 200'000;
  for (int i = 0; i < n; ++i) {
    const double t = g.think_time_s();
    sum += t;
    sq += t * t;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 30.0, 0.02 * 30.0);
  EXPECT_NEAR(std::sqrt(sq / n - mean * mean) / mean, 1.0, 0.02);  // exponential: sd = mean
}

TEST_F(ArrivalsTest, CreateRejectsBadParameters) {
  const Scenario& s = *scenario_;
  EXPECT_FALSE(ArrivalGenerator::create(*profile_, s, 0.0, 1, 0).is_ok());
  EXPECT_FALSE(ArrivalGenerator::create(*profile_, s, 1.5, 1, 0).is_ok());
  Scenario bad = s;
  bad.tiers.clear();
  EXPECT_FALSE(ArrivalGenerator::create(*profile_, bad, kF, 1, 0).is_ok());
  bad = s;
  bad.traffic.turns_per_conversation = 0.5;
  EXPECT_FALSE(ArrivalGenerator::create(*profile_, bad, kF, 1, 0).is_ok());
  bad = s;
  bad.regions.pop_back();
  EXPECT_FALSE(ArrivalGenerator::create(*profile_, bad, kF, 1, 0).is_ok());
}

TEST_F(ArrivalsTest, ExpectedTrafficForAReport) {
  const TrafficWindow peak = expected_traffic(*profile_, 18 * kHour, 0, 2 * kHour);
  EXPECT_NEAR(peak.messages, 5e8, 1e-6 * 5e8);
  EXPECT_NEAR(peak.mean_rate_per_s, 69'444.4, 0.1);
  EXPECT_NEAR(peak.max_rate_per_s, 69'444.4, 0.1);
  EXPECT_NEAR(peak.peak_window_rate_per_s, 69'444.4, 0.01 * 69'444.4);
  EXPECT_NEAR(peak.peak_window_share, 0.2, 0.001);
  EXPECT_NEAR(peak.peak_window_start_utc_s, 18 * kHour, 10);
  const TrafficWindow night = expected_traffic(*profile_, 6 * kHour, 0, 2 * kHour);
  EXPECT_LT(night.max_rate_per_s, 0.3 * 69'444.4);
  EXPECT_NEAR(expected_traffic(*profile_, 5 * kHour, 0, 3 * kDay).messages, 3 * 2.5e9, 1e-6 * 2.5e9);
  EXPECT_EQ(expected_traffic(*profile_, 0, 5, 5).messages, 0.0);
}

// Message sizes --------------------------------------------------------------------------------------

struct Moments {
  double mean = 0;
  double sd = 0;
  double median = 0;
};

Moments moments(MessageSizes& m, const SizeSpec& spec, int n) {
  std::vector<double> v;
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    const double x = static_cast<double>(m.draw_bytes(spec));
    v.push_back(x);
    sum += x;
    sq += x * x;
  }
  std::nth_element(v.begin(), v.begin() + n / 2, v.end());
  const double mean = sum / n;
  return {mean, std::sqrt(sq / n - mean * mean), v[static_cast<std::size_t>(n / 2)]};
}

MessageSizes sizes(const TrafficSpec& t, std::uint64_t seed) {
  Result<MessageSizes> m = MessageSizes::create(t, seed);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return std::move(m).value();
}

TEST(MessageSizes, LognormalMeansAreTheScenarioMeans) {
  const Scenario s = reference();
  MessageSizes m = sizes(s.traffic, 5);
  const Moments user = moments(m, s.traffic.user_message, 200'000);
  EXPECT_NEAR(user.mean, 100, 2);
  EXPECT_NEAR(user.median, 100 * std::exp(-0.5), 0.03 * 100 * std::exp(-0.5));  // mu = ln(mean) - sigma^2/2
  const Moments answer = moments(m, s.traffic.assistant_response, 200'000);
  EXPECT_NEAR(answer.mean, 500, 10);
  EXPECT_NEAR(answer.sd / answer.mean, std::sqrt(std::exp(0.64) - 1), 0.05);
  double user_sum = 0, answer_sum = 0;
  for (int i = 0; i < 200'000; ++i) {
    user_sum += static_cast<double>(m.user_message_bytes());
    answer_sum += static_cast<double>(m.answer_bytes());
  }
  EXPECT_NEAR(user_sum / 200'000, 100, 2);
  EXPECT_NEAR(answer_sum / 200'000, 500, 10);
}

TEST(MessageSizes, ExponentialAndFixed) {
  TrafficSpec t;
  MessageSizes m = sizes(t, 8);
  const Moments e = moments(m, SizeSpec{400, SizeDistribution::kExponential, 0}, 200'000);
  EXPECT_NEAR(e.mean, 400, 8);
  EXPECT_NEAR(e.sd / e.mean, 1.0, 0.03);
  const Moments f = moments(m, SizeSpec{123.4, SizeDistribution::kFixed, 0}, 1000);
  EXPECT_EQ(f.mean, 123.0);
  EXPECT_EQ(f.sd, 0.0);
  EXPECT_EQ(m.draw_bytes(SizeSpec{0, SizeDistribution::kLognormal, 1}), 0);
}

TEST(MessageSizes, TokensAndDraws) {
  TrafficSpec t;
  MessageSizes m = sizes(t, 9);
  EXPECT_EQ(m.tokens(100), 25);
  EXPECT_EQ(m.tokens(101), 26);
  EXPECT_EQ(m.tokens(1), 1);
  EXPECT_EQ(m.tokens(0), 0);
  int flagged = 0;
  const int n = 1'000'000;
  for (int i = 0; i < n; ++i) flagged += m.draw(0.005);
  EXPECT_NEAR(flagged / static_cast<double>(n), 0.005, 5 * std::sqrt(0.005 * 0.995 / n));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(m.draw(0.0));
    EXPECT_TRUE(m.draw(1.0));
  }
}

TEST(MessageSizes, DeterministicPerSeed) {
  TrafficSpec t;
  MessageSizes a = sizes(t, 77), b = sizes(t, 77), c = sizes(t, 78);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t x = a.user_message_bytes();
    ASSERT_EQ(x, b.user_message_bytes());
    differ += x != c.user_message_bytes();
  }
  EXPECT_GT(differ, 900);
  t.bytes_per_token = 0;
  EXPECT_FALSE(MessageSizes::create(t, 1).is_ok());
  t = TrafficSpec{};
  t.user_message.sigma = -1;
  EXPECT_FALSE(MessageSizes::create(t, 1).is_ok());
}

}  // namespace
}  // namespace chatscale::sim
