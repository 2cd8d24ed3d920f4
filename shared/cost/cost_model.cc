#include "cost/cost_model.h"

#include <cmath>
#include <cstdio>

namespace chatscale {
namespace {

constexpr double kBytesPerGb = 1e9;
constexpr double kTokensPerMillion = 1e6;

// Compact numbers for the arithmetic strings: 17500, 4.1, 0.023, 1.875e+12.
std::string num(double v) {
  char buf[48];
  if (std::fabs(v) >= 1e9 || (v != 0 && std::fabs(v) < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

void add_line(CostBreakdown& out, std::string name, double usd, std::string arithmetic) {
  out.lines.push_back({std::move(name), usd, std::move(arithmetic)});
}

void add_gpu_lines(const CostInputs& in, CostBreakdown& out) {
  const double hours = in.prices.hours_per_month;
  for (const GpuPool& pool : in.gpu_pools) {
    const double usd = pool.gpus * pool.usd_per_gpu_hour * hours;
    add_line(out, "gpu:" + pool.name, usd,
             num(pool.gpus) + " GPUs x $" + num(pool.usd_per_gpu_hour) + "/GPU-h x " + num(hours) + " h");
    out.gpu_usd += usd;
  }
}

void add_infrastructure_lines(const CostInputs& in, CostBreakdown& out) {
  const Prices& p = in.prices;
  const double hours = p.hours_per_month;
  const double db = in.database_servers * p.database_server_usd_per_hour * hours;
  add_line(out, "database", db,
           num(in.database_servers) + " servers x $" + num(p.database_server_usd_per_hour) + "/h x " +
               num(hours) + " h");
  const double app = in.app_servers * p.app_server_usd_per_hour * hours;
  add_line(out, "app_servers", app,
           num(in.app_servers) + " hosts x $" + num(p.app_server_usd_per_hour) + "/h x " + num(hours) + " h");

  // Storage is billed on what is held; it grows linearly, so the month's average is its midpoint.
  const double days = hours / 24.0;
  out.average_stored_bytes = stored_bytes_after_days(in, days / 2.0);
  const double gb_months = out.average_stored_bytes / kBytesPerGb * in.storage_copies;
  const double storage = gb_months * p.storage_usd_per_gb_month;
  add_line(out, "storage", storage,
           "(" + num(in.stored_bytes_at_month_start) + " B + " + num(in.stored_bytes_per_day) + " B/day x " +
               num(days) + " days / 2) / 1e9 x " + num(in.storage_copies) + " copies x $" +
               num(p.storage_usd_per_gb_month) + "/GB-month");

  const double egress = in.egress_bytes_per_month / kBytesPerGb * p.egress_usd_per_gb;
  add_line(out, "egress", egress,
           num(in.egress_bytes_per_month) + " B / 1e9 x $" + num(p.egress_usd_per_gb) + "/GB");
  out.infrastructure_usd = db + app + storage + egress;
}

void add_api_lines(const CostInputs& in, CostBreakdown& out) {
  const Prices& p = in.prices;
  const double input = in.input_tokens_per_month / kTokensPerMillion * p.api_input_usd_per_million_tokens;
  add_line(out, "api_input", input,
           num(in.input_tokens_per_month) + " tokens / 1e6 x $" + num(p.api_input_usd_per_million_tokens) +
               "/M input");
  const double output = in.output_tokens_per_month / kTokensPerMillion * p.api_output_usd_per_million_tokens;
  add_line(out, "api_output", output,
           num(in.output_tokens_per_month) + " tokens / 1e6 x $" + num(p.api_output_usd_per_million_tokens) +
               "/M output");
  out.api_tokens_usd = input + output;
}

}  // namespace

double CostBreakdown::line_usd(std::string_view name) const {
  for (const CostLine& line : lines) {
    if (line.name == name) return line.usd_per_month;
  }
  return 0;
}

double CostBreakdown::api_over_self_hosted() const {
  return self_hosted_usd > 0 ? api_usd / self_hosted_usd : 0;
}

double stored_bytes_after_days(const CostInputs& inputs, double days) {
  return inputs.stored_bytes_at_month_start + inputs.stored_bytes_per_day * days;
}

CostBreakdown monthly_cost(const CostInputs& inputs) {
  CostBreakdown out;
  add_gpu_lines(inputs, out);
  add_infrastructure_lines(inputs, out);
  out.upfront_usd = inputs.prices.upfront_usd;
  if (inputs.prices.upfront_amortization_months > 0) {
    out.upfront_amortized_usd = inputs.prices.upfront_usd / inputs.prices.upfront_amortization_months;
    add_line(out, "upfront_amortized", out.upfront_amortized_usd,
             "$" + num(inputs.prices.upfront_usd) + " / " + num(inputs.prices.upfront_amortization_months) +
                 " months");
  }
  add_api_lines(inputs, out);
  out.self_hosted_usd = out.gpu_usd + out.infrastructure_usd + out.upfront_amortized_usd;
  out.api_usd = out.api_tokens_usd + out.infrastructure_usd;
  return out;
}

std::string format_usd(double usd) {
  char buf[64];
  if (std::fabs(usd) < 1.0) {
    std::snprintf(buf, sizeof buf, "$%.2f", usd);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.0f", std::fabs(usd));
  std::string digits = buf;
  std::string grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return (usd < 0 ? "-$" : "$") + grouped;
}

std::string format_cost_breakdown(const CostBreakdown& b) {
  std::string out;
  char buf[96];
  for (const CostLine& line : b.lines) {
    std::snprintf(buf, sizeof buf, "%-22s %18s  ", line.name.c_str(), format_usd(line.usd_per_month).c_str());
    out += buf + line.arithmetic + "\n";
  }
  auto total = [&](const char* name, double usd) {
    std::snprintf(buf, sizeof buf, "%-22s %18s\n", name, format_usd(usd).c_str());
    out += buf;
  };
  total("self-hosted total", b.self_hosted_usd);
  total("API total", b.api_usd);
  if (b.upfront_usd > 0) total("upfront (one-off)", b.upfront_usd);
  std::snprintf(buf, sizeof buf, "API / self-hosted      %18.2fx\n", b.api_over_self_hosted());
  out += buf;
  return out;
}

}  // namespace chatscale
