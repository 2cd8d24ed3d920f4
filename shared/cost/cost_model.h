// The cost model: monthly dollars of running chatscale, self-hosted on rented GPUs or with the model
// behind a paid LLM API. Pure arithmetic over explicit inputs (no I/O, no clock, no defaults hidden in
// code paths): every line of the breakdown carries the arithmetic that produced it, so a report can show
// where a figure such as "$52.4M/month self-hosted vs $145-159M with APIs" holds and where it breaks.
//
// Units: dollars (USD), hours, bytes, decimal gigabytes (1 GB = 1e9 bytes, as clouds bill), tokens.
// Ownership: values only. Thread-safety: functions are pure; values are safe to share read-only.
// Failure behaviour: none; inputs are taken as given (validation happens where they are parsed).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace chatscale {

// Prices the model multiplies by. The scenario's `costs:` section is parsed into this struct; the
// defaults are documented in scenarios/README.md with their sources.
struct Prices {
  double hours_per_month = 730;  // 8,760 h a year / 12
  // Per-GPU hourly price by provider; GPU clusters without a provider of their own use gpu_provider.
  std::map<std::string, double> gpu_usd_per_hour = {{"reference_blended", 4.10}};
  std::string gpu_provider = "reference_blended";
  double api_input_usd_per_million_tokens = 5.0;
  double api_output_usd_per_million_tokens = 15.0;
  double storage_usd_per_gb_month = 0.08;    // block storage for the database (per copy)
  double egress_usd_per_gb = 0.05;           // internet egress of the streamed answers
  double database_server_usd_per_hour = 10.0;  // one PostgreSQL server (primary or replica)
  double app_server_usd_per_hour = 1.50;       // one API host running `chatscale serve`
  double upfront_usd = 0;                    // one-off purchase (the reference: $525M)
  // Months over which upfront_usd is spread into the monthly total; 0 = reported apart, not added.
  double upfront_amortization_months = 0;
};

// GPUs rented from one provider (or one cluster) at one hourly price.
struct GpuPool {
  std::string name;  // shown in the breakdown, e.g. the cluster name
  double gpus = 0;
  double usd_per_gpu_hour = 0;
};

// What the service consumes in one month. Storage is per copy; storage_copies multiplies it (the
// database primary and each streaming replica hold a full copy).
struct CostInputs {
  Prices prices;
  std::vector<GpuPool> gpu_pools;
  double database_servers = 0;
  double app_servers = 0;
  double input_tokens_per_month = 0;   // prompt tokens the model reads (what an API bills as input)
  double output_tokens_per_month = 0;  // generated tokens (what an API bills as output)
  double stored_bytes_at_month_start = 0;  // per copy: metadata and earlier months' messages
  double stored_bytes_per_day = 0;         // per copy: new messages each day
  double storage_copies = 1;
  double egress_bytes_per_month = 0;
};

// One named component: dollars per month and the arithmetic, e.g.
// "17500 GPUs x $4.10/GPU-h x 730 h".
struct CostLine {
  std::string name;
  double usd_per_month = 0;
  std::string arithmetic;
};

struct CostBreakdown {
  // Every component: "gpu:<pool>", "database", "app_servers", "storage", "egress",
  // "upfront_amortized" (when amortised), "api_input", "api_output".
  std::vector<CostLine> lines;
  double gpu_usd = 0;                 // all GPU pools
  double infrastructure_usd = 0;      // database + app servers + storage + egress: paid either way
  double upfront_amortized_usd = 0;
  double self_hosted_usd = 0;         // gpu + infrastructure + upfront_amortized
  double api_tokens_usd = 0;          // api_input + api_output
  double api_usd = 0;                 // api_tokens + infrastructure (no GPUs)
  double upfront_usd = 0;             // the one-off figure, as given
  double average_stored_bytes = 0;    // per copy, over the month

  // Dollars per month of the named line; 0 when there is none.
  double line_usd(std::string_view name) const;
  // How many times the API route costs the self-hosted one (0 when self-hosted costs nothing).
  double api_over_self_hosted() const;
};

CostBreakdown monthly_cost(const CostInputs& inputs);

// Bytes held per copy `days` after the month starts (storage grows linearly).
double stored_bytes_after_days(const CostInputs& inputs, double days);

// "$52,377,500"; "$0.05" below one dollar.
std::string format_usd(double usd);
// A plain-text table of the breakdown, one line per component, then the totals and the comparison.
std::string format_cost_breakdown(const CostBreakdown& breakdown);

}  // namespace chatscale
