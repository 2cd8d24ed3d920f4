// Hand-checked arithmetic of the cost model, and the reference design's cost claims (MISSION.md):
// ~$52.4M/month self-hosted ($525M up front) versus ~$145-159M/month with LLM APIs.
#include "cost/cost_model.h"

#include <gtest/gtest.h>

namespace chatscale {
namespace {

// The reference month, explicit: 2.5B messages/day x 30 days; 100 B in, 500 B out at 4 B/token.
CostInputs reference_inputs() {
  CostInputs in;
  in.prices.hours_per_month = 730;
  in.prices.api_input_usd_per_million_tokens = 5.0;   // GPT-4o launch price (May 2024)
  in.prices.api_output_usd_per_million_tokens = 15.0;
  in.gpu_pools = {{"fleet", 17'500, 4.10}};
  const double messages = 2.5e9 * 30;
  in.input_tokens_per_month = messages * 100 / 4;   // 25 tokens each
  in.output_tokens_per_month = messages * 500 / 4;  // 125 tokens each
  return in;
}

TEST(CostModel, GpuLineIsGpusTimesPriceTimesHours) {
  CostInputs in;
  in.gpu_pools = {{"a", 17'500, 4.10}, {"b", 100, 2.99}};
  const CostBreakdown b = monthly_cost(in);
  EXPECT_DOUBLE_EQ(b.line_usd("gpu:a"), 52'377'500.0);  // 17,500 x 4.10 x 730
  EXPECT_DOUBLE_EQ(b.line_usd("gpu:b"), 218'270.0);     // 100 x 2.99 x 730
  EXPECT_DOUBLE_EQ(b.gpu_usd, 52'595'770.0);
  EXPECT_EQ(b.lines[0].arithmetic, "17500 GPUs x $4.1/GPU-h x 730 h");
}

TEST(CostModel, ReferenceSelfHostedClaimHoldsAtFourTenAnHour) {
  // $52.4M / (17,500 GPUs x 730 h) = $4.10 per GPU-hour: the claim is a blended rental rate.
  const CostBreakdown b = monthly_cost(reference_inputs());
  EXPECT_NEAR(b.gpu_usd / 1e6, 52.4, 0.05);
  // At on-demand list prices it breaks: 17,500 x $6.88 (AWS p5 after the 2025 cut) x 730 = $87.9M.
  CostInputs aws = reference_inputs();
  aws.gpu_pools = {{"aws", 17'500, 6.88}};
  EXPECT_DOUBLE_EQ(monthly_cost(aws).gpu_usd, 87'892'000.0);
  // $525M up front is 17,500 x $30,000; spread over 36 months it adds $14.58M a month.
  CostInputs owned = reference_inputs();
  owned.prices.upfront_usd = 17'500 * 30'000.0;
  EXPECT_DOUBLE_EQ(owned.prices.upfront_usd, 525e6);
  EXPECT_DOUBLE_EQ(monthly_cost(owned).self_hosted_usd, monthly_cost(reference_inputs()).self_hosted_usd);
  owned.prices.upfront_amortization_months = 36;
  const CostBreakdown amortized = monthly_cost(owned);
  EXPECT_NEAR(amortized.upfront_amortized_usd, 14'583'333.33, 0.01);
  EXPECT_NEAR(amortized.self_hosted_usd, 52'377'500.0 + 14'583'333.33, 0.01);
}

TEST(CostModel, ReferenceApiClaimHoldsOnlyForNewMessageTokensAtFiveAndFifteen) {
  const CostBreakdown b = monthly_cost(reference_inputs());
  // 75e9 x 25 = 1.875e12 input tokens x $5/M = $9.375M; 75e9 x 125 = 9.375e12 output x $15/M = $140.625M.
  EXPECT_DOUBLE_EQ(b.line_usd("api_input"), 9'375'000.0);
  EXPECT_DOUBLE_EQ(b.line_usd("api_output"), 140'625'000.0);
  EXPECT_DOUBLE_EQ(b.api_tokens_usd, 150'000'000.0);  // inside $145-159M
  EXPECT_NEAR(b.api_over_self_hosted(), 150.0 / 52.3775, 1e-4);  // ~2.86x

  // At GPT-4o's later $2.50 / $10 the same tokens cost $98.4M: below the claimed range.
  CostInputs cheaper = reference_inputs();
  cheaper.prices.api_input_usd_per_million_tokens = 2.5;
  cheaper.prices.api_output_usd_per_million_tokens = 10;
  EXPECT_DOUBLE_EQ(monthly_cost(cheaper).api_tokens_usd, 98'437'500.0);

  // An API bills the whole context: with two earlier exchanges (2 x 150 tokens) resent per message,
  // input grows to 325 tokens and the bill to $262.5M: above the range.
  CostInputs with_history = reference_inputs();
  with_history.input_tokens_per_month = 2.5e9 * 30 * 325;
  EXPECT_DOUBLE_EQ(monthly_cost(with_history).api_tokens_usd, 262'500'000.0);
}

TEST(CostModel, StorageAccumulatesAndIsBilledOnTheMonthsAverage) {
  CostInputs in;
  in.prices.hours_per_month = 720;  // 30 days, for round numbers
  in.prices.storage_usd_per_gb_month = 0.08;
  in.stored_bytes_at_month_start = 6e12;  // MISSION: 1 TB profiles + 5 TB conversation metadata
  in.stored_bytes_per_day = 2.5e9 * 600;  // MISSION: 1.5 TB/day
  EXPECT_DOUBLE_EQ(in.stored_bytes_per_day, 1.5e12);
  // MISSION: 548 TB/year (1.5 TB x 365 = 547.5 TB).
  EXPECT_DOUBLE_EQ(stored_bytes_after_days(in, 365) - in.stored_bytes_at_month_start, 547.5e12);
  CostBreakdown b = monthly_cost(in);
  // Average held: 6 TB + 1.5 TB x 30 / 2 = 28.5 TB = 28,500 GB x $0.08 = $2,280.
  EXPECT_DOUBLE_EQ(b.average_stored_bytes, 28.5e12);
  EXPECT_DOUBLE_EQ(b.line_usd("storage"), 2'280.0);
  in.storage_copies = 21;  // primary + 20 replicas each hold a copy
  EXPECT_DOUBLE_EQ(monthly_cost(in).line_usd("storage"), 47'880.0);
}

TEST(CostModel, EgressDatabaseAndAppServers) {
  CostInputs in;
  in.egress_bytes_per_month = 75e9 * 750;  // 750 B streamed per message
  in.prices.egress_usd_per_gb = 0.05;
  in.database_servers = 21;
  in.prices.database_server_usd_per_hour = 10;
  in.app_servers = 600;
  in.prices.app_server_usd_per_hour = 1.5;
  const CostBreakdown b = monthly_cost(in);
  EXPECT_DOUBLE_EQ(b.line_usd("egress"), 2'812.5);      // 56,250 GB x $0.05
  EXPECT_DOUBLE_EQ(b.line_usd("database"), 153'300.0);  // 21 x $10 x 730
  EXPECT_DOUBLE_EQ(b.line_usd("app_servers"), 657'000.0);  // 600 x $1.5 x 730
  EXPECT_DOUBLE_EQ(b.infrastructure_usd, 2'812.5 + 153'300.0 + 657'000.0);
  // Infrastructure is paid on both routes; only GPUs and API tokens differ.
  EXPECT_DOUBLE_EQ(b.self_hosted_usd, b.infrastructure_usd);
  EXPECT_DOUBLE_EQ(b.api_usd, b.infrastructure_usd);
  EXPECT_DOUBLE_EQ(b.line_usd("no_such_line"), 0);
}

TEST(CostModel, Formatting) {
  EXPECT_EQ(format_usd(52'377'500), "$52,377,500");
  EXPECT_EQ(format_usd(999), "$999");
  EXPECT_EQ(format_usd(1000), "$1,000");
  EXPECT_EQ(format_usd(0.05), "$0.05");
  EXPECT_EQ(format_usd(-1234.4), "-$1,234");
  const std::string table = format_cost_breakdown(monthly_cost(reference_inputs()));
  EXPECT_NE(table.find("gpu:fleet"), std::string::npos);
  EXPECT_NE(table.find("$52,377,500  17500 GPUs x $4.1/GPU-h x 730 h"), std::string::npos) << table;
  EXPECT_NE(table.find("API / self-hosted"), std::string::npos);
  EXPECT_NE(table.find("2.86x"), std::string::npos) << table;
}

}  // namespace
}  // namespace chatscale
