#include "sim/report/svg_chart.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "sim/report/format.h"

namespace chatscale::sim {
namespace {

constexpr std::array<std::string_view, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kLeft = 84, kRight = 180, kTop = 44, kBottom = 56;

std::string num(double v) {
  std::array<char, 32> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%.1f", v);
  return std::string(buf.data(), static_cast<size_t>(n));
}

double nice_number(double x, bool round) {
  double exp = std::floor(std::log10(x));
  double f = x / std::pow(10.0, exp);
  double nf = 0;
  if (round) {
    nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  } else {
    nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  }
  return nf * std::pow(10.0, exp);
}

// Decimals needed to print every multiple of `step` exactly (0.25 -> 2, 5 -> 0).
int step_decimals(double step) {
  for (int d = 0; d < 9; ++d) {
    double scaled = step * std::pow(10.0, d);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
  }
  return 9;
}

std::string y_label_text(double v, double step, double max_abs) {
  if (max_abs >= 10'000) return format_si(v, {}, 4);
  return format_thousands(v, step_decimals(step));
}

struct Frame {
  double x0, x1, y0, y1;  // data range
  double left, top, width, height;  // plot area in pixels
  double px(double x) const { return x1 > x0 ? left + (x - x0) / (x1 - x0) * width : left + width / 2; }
  double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

// The finite data range of all series; false when there is no finite point.
bool data_range(const std::vector<TimeSeries>& series, double& x0, double& x1, double& y0, double& y1) {
  bool any = false;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (!std::isfinite(s.t[i]) || !std::isfinite(s.v[i])) continue;
      x0 = any ? std::min(x0, s.t[i]) : s.t[i];
      x1 = any ? std::max(x1, s.t[i]) : s.t[i];
      y0 = any ? std::min(y0, s.v[i]) : s.v[i];
      y1 = any ? std::max(y1, s.v[i]) : s.v[i];
      any = true;
    }
  }
  return any;
}

long column_of(const Frame& f, double t) {
  return std::isfinite(t) ? static_cast<long>(std::floor(f.px(t))) : std::numeric_limits<long>::min();
}

// Indices to draw: all points, or per pixel column the first, minimum, maximum and last (in order).
std::vector<size_t> thin(const TimeSeries& s, const Frame& f) {
  std::vector<size_t> keep;
  if (s.size() <= static_cast<size_t>(2 * f.width)) {
    for (size_t i = 0; i < s.size(); ++i) keep.push_back(i);
    return keep;
  }
  size_t i = 0;
  while (i < s.size()) {
    long column = column_of(f, s.t[i]);
    size_t lo = i, hi = i, j = i;
    for (; j < s.size() && column_of(f, s.t[j]) == column; ++j) {
      if (s.v[j] < s.v[lo]) lo = j;
      if (s.v[j] > s.v[hi]) hi = j;
    }
    std::array<size_t, 4> picks = {i, std::min(lo, hi), std::max(lo, hi), j - 1};
    for (size_t p : picks)
      if (keep.empty() || keep.back() < p) keep.push_back(p);
    i = j;
  }
  return keep;
}

std::string line_path(const TimeSeries& s, const Frame& f) {
  std::string d;
  bool pen_down = false;
  for (size_t i : thin(s, f)) {
    if (!std::isfinite(s.t[i]) || !std::isfinite(s.v[i])) {
      pen_down = false;
      continue;
    }
    d += pen_down ? " L" : (d.empty() ? "M" : " M");
    d += num(f.px(s.t[i])) + " " + num(f.py(s.v[i]));
    pen_down = true;
  }
  return d;
}

void draw_y_axis(std::string& svg, const Frame& f, const std::vector<double>& ticks) {
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double max_abs = std::max(std::fabs(ticks.front()), std::fabs(ticks.back()));
  for (double v : ticks) {
    std::string y = num(f.py(v));
    svg += "<line x1=\"" + num(f.left) + "\" y1=\"" + y + "\" x2=\"" + num(f.left + f.width) + "\" y2=\"" + y +
           "\" stroke=\"#e0e0e0\"/>\n";
    svg += "<text x=\"" + num(f.left - 6) + "\" y=\"" + y + "\" text-anchor=\"end\" dominant-baseline=\"middle\">" +
           xml_escape(y_label_text(v, step, max_abs)) + "</text>\n";
  }
}

void draw_x_axis(std::string& svg, const Frame& f, double offset) {
  std::vector<double> ticks = time_ticks(f.x0, f.x1, offset);
  bool with_seconds = ticks.size() > 1 && std::fmod(ticks[1] - ticks[0], 60.0) != 0;
  double bottom = f.top + f.height;
  for (double t : ticks) {
    std::string x = num(f.px(t));
    svg += "<line x1=\"" + x + "\" y1=\"" + num(f.top) + "\" x2=\"" + x + "\" y2=\"" + num(bottom) +
           "\" stroke=\"#f0f0f0\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + num(bottom + 18) + "\" text-anchor=\"middle\">" +
           time_of_day_label(t + offset, with_seconds) + "</text>\n";
  }
}

void draw_legend(std::string& svg, const std::vector<TimeSeries>& series, const Frame& f) {
  double x = f.left + f.width + 16;
  for (size_t i = 0; i < series.size(); ++i) {
    double y = f.top + 8 + 18 * static_cast<double>(i);
    std::string colour(kPalette[i % kPalette.size()]);
    svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 18) + "\" y2=\"" + num(y) +
           "\" stroke=\"" + colour + "\" stroke-width=\"2\"/>\n";
    svg += "<text x=\"" + num(x + 24) + "\" y=\"" + num(y) + "\" dominant-baseline=\"middle\">" +
           xml_escape(series[i].name) + "</text>\n";
  }
}

std::string header(std::string_view title, std::string_view x_label, std::string_view y_label, const Frame& f,
                   const ChartOptions& o) {
  std::string w = std::to_string(o.width), h = std::to_string(o.height);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h +
                    "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + w + "\" height=\"" + h + "\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(o.width / 2.0) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" +
         xml_escape(title) + "</text>\n";
  svg += "<text x=\"" + num(f.left + f.width / 2) + "\" y=\"" + num(o.height - 12.0) + "\" text-anchor=\"middle\">" +
         xml_escape(x_label) + "</text>\n";
  double cy = f.top + f.height / 2;
  svg += "<text x=\"18\" y=\"" + num(cy) + "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " + num(cy) +
         ")\">" + xml_escape(y_label) + "</text>\n";
  return svg;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double step = nice_number(nice_number(hi - lo, false) / std::max(1, target - 1), true);
  auto first = static_cast<long long>(std::floor(lo / step + 1e-9));
  auto last = static_cast<long long>(std::ceil(hi / step - 1e-9));
  std::vector<double> ticks;
  for (long long k = first; k <= last; ++k) ticks.push_back(k == 0 ? 0.0 : static_cast<double>(k) * step);
  return ticks;
}

std::vector<double> time_ticks(double t0, double t1, double offset, int target) {
  static constexpr std::array<double, 19> kSteps = {1,    2,    5,    10,    15,    30,    60,    120,   300,  600,
                                                    900,  1800, 3600, 7200,  10800, 14400, 21600, 43200, 86400};
  if (!(t1 >= t0)) return {};
  double step = kSteps.back();
  for (double s : kSteps) {
    if ((t1 - t0) / s <= target) {
      step = s;
      break;
    }
  }
  std::vector<double> ticks;
  for (double k = std::ceil((t0 + offset) / step - 1e-9); k * step - offset <= t1 + 1e-9; k += 1)
    ticks.push_back(k * step - offset);
  return ticks;
}

std::string time_of_day_label(double seconds, bool with_seconds) {
  auto s = static_cast<long long>(std::llround(seconds)) % 86'400;
  if (s < 0) s += 86'400;
  std::array<char, 16> buf{};
  int n = with_seconds ? std::snprintf(buf.data(), buf.size(), "%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60)
                       : std::snprintf(buf.data(), buf.size(), "%02lld:%02lld", s / 3600, s / 60 % 60);
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg_line_chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                                  const std::vector<TimeSeries>& series, const ChartOptions& o) {
  Frame f{0, 1, 0, 1, kLeft, kTop, std::max(10.0, o.width - kLeft - kRight), std::max(10.0, o.height - kTop - kBottom)};
  bool any = data_range(series, f.x0, f.x1, f.y0, f.y1);
  if (f.x1 == f.x0) {  // a single instant: show a minute either side
    f.x0 -= 60;
    f.x1 += 60;
  }
  if (o.y_from_zero) {
    f.y0 = std::min(f.y0, 0.0);
    f.y1 = std::max(f.y1, 0.0);
  }
  std::vector<double> yticks = nice_ticks(f.y0, f.y1);
  f.y0 = yticks.front();
  f.y1 = yticks.back();
  std::string svg = header(title, x_label, y_label, f, o);
  draw_y_axis(svg, f, yticks);
  if (any) draw_x_axis(svg, f, o.time_of_day_offset_s);
  svg += "<rect x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width) + "\" height=\"" +
         num(f.height) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  if (!any) {
    svg += "<text x=\"" + num(f.left + f.width / 2) + "\" y=\"" + num(f.top + f.height / 2) +
           "\" text-anchor=\"middle\">no data</text>\n";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    std::string d = line_path(series[i], f);
    if (d.empty()) continue;
    svg += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + std::string(kPalette[i % kPalette.size()]) +
           "\" stroke-width=\"1.5\"><title>" + xml_escape(series[i].name) + "</title></path>\n";
  }
  draw_legend(svg, series, f);
  svg += "</svg>\n";
  return svg;
}

Status write_svg_line_chart(const std::string& path, std::string_view title, std::string_view x_label,
                            std::string_view y_label, const std::vector<TimeSeries>& series, const ChartOptions& o) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return internal_error("cannot write " + path + ": " + std::strerror(errno));
  out << render_svg_line_chart(title, x_label, y_label, series, o);
  out.flush();
  if (!out) return internal_error("writing " + path + " failed: " + std::strerror(errno));
  return Status::ok();
}

}  // namespace chatscale::sim
