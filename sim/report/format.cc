#include "sim/report/format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace chatscale::sim {
namespace {

constexpr std::string_view kNotAvailable = "n/a";

// Rounds |v| to `significant` digits and returns how many of them fall after the decimal point.
int decimals_for(double v, int significant) {
  if (v == 0) return 0;
  int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  return std::max(0, significant - 1 - magnitude);
}

double round_significant(double v, int significant) {
  if (v == 0 || !std::isfinite(v)) return v;
  double scale = std::pow(10.0, significant - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return std::round(v * scale) / scale;
}

std::string fixed(double v, int decimals) {
  std::array<char, 64> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
  if (n < 0 || n >= static_cast<int>(buf.size())) {
    n = std::snprintf(buf.data(), buf.size(), "%.*g", 6, v);
  }
  return std::string(buf.data(), static_cast<size_t>(std::max(n, 0)));
}

std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Inserts ',' every three digits of the integer part of a plain decimal string.
std::string group_thousands(const std::string& s) {
  size_t start = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t end = s.find('.');
  if (end == std::string::npos) end = s.size();
  std::string out = s.substr(0, start);
  for (size_t i = start; i < end; ++i) {
    out += s[i];
    size_t left = end - i - 1;
    if (left > 0 && left % 3 == 0) out += ',';
  }
  out += s.substr(end);
  return out;
}

// A value of at most `significant` digits, zeros trimmed, e.g. "69.4", "1", "0.0123".
std::string plain_significant(double v, int significant) {
  double r = round_significant(v, significant);
  std::string s = trim_zeros(fixed(r, decimals_for(r, significant)));
  return s == "-0" ? "0" : s;
}

}  // namespace

std::string format_thousands(double v, int decimals) {
  if (!std::isfinite(v)) return std::string(kNotAvailable);
  if (std::fabs(v) >= 1e18) return fixed(v, 0);
  std::string s = fixed(v, std::max(0, decimals));
  if (s.find_first_not_of("-0.,") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0" -> "0"
  return group_thousands(s);
}

std::string format_si(double v, std::string_view unit, int significant) {
  if (!std::isfinite(v)) return std::string(kNotAvailable);
  static constexpr std::array<std::string_view, 7> kUp = {"", "k", "M", "G", "T", "P", "E"};
  static constexpr std::array<std::string_view, 5> kDown = {"", "m", "\xC2\xB5", "n", "p"};
  std::string_view prefix;
  double scaled = v;
  if (v != 0 && std::fabs(v) < 1) {
    size_t i = 0;
    while (i + 1 < kDown.size() && std::fabs(round_significant(scaled, significant)) < 1) {
      scaled *= 1000;
      ++i;
    }
    prefix = kDown[i];
  } else {
    size_t i = 0;
    while (i + 1 < kUp.size() && std::fabs(round_significant(scaled, significant)) >= 1000) {
      scaled /= 1000;
      ++i;
    }
    prefix = kUp[i];
  }
  std::string number = plain_significant(scaled, significant);
  if (unit.empty()) return number + std::string(prefix);
  return number + " " + std::string(prefix) + std::string(unit);
}

std::string format_significant(double v, int significant) {
  if (!std::isfinite(v)) return std::string(kNotAvailable);
  return group_thousands(plain_significant(v, significant));
}

std::string format_percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return std::string(kNotAvailable);
  return fixed(fraction * 100, std::max(0, decimals)) + "%";
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return std::string(kNotAvailable);
  double a = std::fabs(seconds);
  if (a != 0 && a < 1) return format_si(seconds, "s");
  if (a < 120) return plain_significant(seconds, 3) + " s";
  if (a < 7200) return plain_significant(seconds / 60, 3) + " min";
  if (a < 2 * 86'400) return plain_significant(seconds / 3600, 3) + " h";
  return plain_significant(seconds / 86'400, 3) + " d";
}

std::string format_bytes(double bytes) { return format_si(bytes, "B"); }

std::string format_ratio(double ratio) {
  if (!std::isfinite(ratio)) return std::string(kNotAvailable);
  return "x" + format_significant(ratio, 3);
}

std::string format_shortest(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), res.ptr);
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace chatscale::sim
