// Number formatting for the simulator's reports: thousands separators, SI prefixes, percentages,
// durations and ratios, plus the shortest round-trip form used in machine-readable outputs.
// Pure functions of their arguments; thread-safe. Non-finite values format as "n/a" (or "NaN", "+Inf",
// "-Inf" in format_shortest, the OpenMetrics spellings).
#pragma once

#include <string>
#include <string_view>

namespace chatscale::sim {

// 69444.4 -> "69,444"; (1234.5, 1) -> "1,234.5"; -> "-1,000".
std::string format_thousands(double v, int decimals = 0);
// `significant` digits, then trailing zeros trimmed: (69444, "/s") -> "69.4 k/s"; (2.5e9, "B") ->
// "2.5 GB"; (0.0123, "s") -> "12.3 ms"; (69444) -> "69.4k"; (12) -> "12".
std::string format_si(double v, std::string_view unit = {}, int significant = 3);
// `significant` digits without prefix or exponent, with thousands separators: 0.012345 -> "0.0123",
// 69444 -> "69,400".
std::string format_significant(double v, int significant = 3);
// 0.1234 -> "12.3%" (decimals after the point).
std::string format_percent(double fraction, int decimals = 1);
// 0.85 -> "850 ms", 1.234 -> "1.23 s", 750 -> "12.5 min", 9000 -> "2.5 h".
std::string format_duration(double seconds);
// Decimal SI bytes: 2.5e12 -> "2.5 TB".
std::string format_bytes(double bytes);
// 1.0234 -> "x1.02", 31.4 -> "x31.4".
std::string format_ratio(double ratio);
// Shortest text that reads back as the same double ("0.1", "2560", "1e-05", "NaN", "+Inf").
std::string format_shortest(double v);
// Text fit for one Markdown table cell: '|' escaped, line breaks as spaces.
std::string markdown_cell(std::string_view text);

}  // namespace chatscale::sim
