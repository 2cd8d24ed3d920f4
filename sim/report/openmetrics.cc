#include "sim/report/openmetrics.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "sim/report/format.h"

namespace chatscale::sim {
namespace {

constexpr size_t kFlushBytes = 1 << 20;

// HELP text escaping: the same three escapes as label values.
std::string escape_text(std::string_view text) { return escape_label_value(text); }

// The snapshots to write and their timestamps ("1767632400.015").
struct Stamps {
  std::vector<char> keep;  // per snapshot index
  std::vector<std::string> text;
};

Stamps choose_stamps(const std::vector<double>& times, double epoch, double min_step_s) {
  Stamps s{std::vector<char>(times.size(), 0), std::vector<std::string>(times.size())};
  long long last_ms = 0;
  double last_t = 0;
  bool any = false;
  for (size_t i = 0; i < times.size(); ++i) {
    auto ms = static_cast<long long>(std::llround((epoch + times[i]) * 1000.0));
    bool far_enough = !any || times[i] - last_t >= min_step_s * (1 - 1e-9);
    if (!far_enough || (any && ms <= last_ms)) continue;
    std::array<char, 40> buf{};
    int n = std::snprintf(buf.data(), buf.size(), "%lld.%03lld", ms / 1000, ms % 1000);
    s.keep[i] = 1;
    s.text[i].assign(buf.data(), static_cast<size_t>(n));
    last_ms = ms;
    last_t = times[i];
    any = true;
  }
  return s;
}

// `{mode="sim",tier="free"` without the closing brace, so bucket lines can append le.
std::string label_prefix(const MetricDef& def, const Series& s, const std::string& mode) {
  std::string out = "{mode=\"" + escape_label_value(mode) + "\"";
  for (size_t i = 0; i < def.labels.size(); ++i) {
    out += ',';
    out += def.labels[i];
    out += "=\"";
    out += escape_label_value(s.labels[i]);
    out += '"';
  }
  return out;
}

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) { buf_.reserve(kFlushBytes + 4096); }
  ~Writer() { flush(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // name + labels (+ extra) + "} " + value + " " + stamp
  void sample(std::string_view name, std::string_view labels, std::string_view extra, double value,
              std::string_view stamp) {
    buf_ += name;
    buf_ += labels;
    buf_ += extra;
    buf_ += "} ";
    buf_ += format_shortest(value);
    buf_ += ' ';
    buf_ += stamp;
    buf_ += '\n';
    if (buf_.size() >= kFlushBytes) flush();
  }
  void line(std::string_view text) {
    buf_ += text;
    buf_ += '\n';
  }
  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
  }

 private:
  std::ostream& out_;
  std::string buf_;
};

void write_metadata(Writer& w, const MetricDef& def) {
  std::string family = openmetrics_family_name(def);
  w.line("# TYPE " + family + " " + std::string(metric_type_name(def.type)));
  std::string unit = openmetrics_unit(def);
  if (!unit.empty()) w.line("# UNIT " + family + " " + unit);
  w.line("# HELP " + family + " " + escape_text(def.help));
}

void write_histogram(Writer& w, const MetricDef& def, const Series& s, const std::string& labels,
                     const Stamps& stamps) {
  std::string family = openmetrics_family_name(def);
  std::string bucket = family + "_bucket", count = family + "_count", sum = family + "_sum";
  std::vector<std::string> le;
  for (double b : def.buckets) le.push_back(",le=\"" + format_shortest(b) + "\"");
  le.push_back(",le=\"+Inf\"");
  for (size_t k = 0; k < s.snapshot_count(); ++k) {
    size_t i = s.first_snapshot + k;
    if (!stamps.keep[i]) continue;
    const double* cum = s.cumulative_at(k);
    for (size_t b = 0; b < le.size(); ++b) w.sample(bucket, labels, le[b], cum[b], stamps.text[i]);
    w.sample(count, labels, {}, s.values[k], stamps.text[i]);
    w.sample(sum, labels, {}, s.sums[k], stamps.text[i]);
  }
}

void write_family(Writer& w, const Recorder& rec, const MetricDef& def, const RunInfo& info, const Stamps& stamps) {
  write_metadata(w, def);
  std::string name = def.type == MetricType::kCounter ? openmetrics_family_name(def) + "_total" : std::string(def.name);
  for (const Series* s : rec.series(def.id)) {
    std::string labels = label_prefix(def, *s, info.mode);
    if (def.type == MetricType::kHistogram) {
      write_histogram(w, def, *s, labels, stamps);
      continue;
    }
    for (size_t k = 0; k < s->snapshot_count(); ++k) {
      size_t i = s->first_snapshot + k;
      if (stamps.keep[i]) w.sample(name, labels, {}, s->values[k], stamps.text[i]);
    }
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string openmetrics_family_name(const MetricDef& def) {
  std::string_view name = def.name;
  constexpr std::string_view kTotal = "_total";
  if (def.type == MetricType::kCounter && name.size() > kTotal.size() && name.ends_with(kTotal))
    name.remove_suffix(kTotal.size());
  return std::string(name);
}

std::string openmetrics_unit(const MetricDef& def) {
  std::string family = openmetrics_family_name(def);
  for (std::string_view unit : {"seconds", "bytes", "ratio", "dollars"}) {
    if (family.size() > unit.size() + 1 && family.ends_with(unit) && family[family.size() - unit.size() - 1] == '_')
      return std::string(unit);
  }
  return "";
}

void write_openmetrics(std::ostream& out, const Recorder& rec, const RunInfo& info, const OpenMetricsOptions& options) {
  Stamps stamps = choose_stamps(rec.snapshot_times(), info.start_epoch_seconds, options.min_step_s);
  Writer w(out);
  for (const MetricDef& def : metric_catalogue()) write_family(w, rec, def, info, stamps);
  w.line("# EOF");
}

Status write_openmetrics(const std::string& path, const Recorder& rec, const RunInfo& info,
                         const OpenMetricsOptions& options) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return internal_error("cannot write " + path + ": " + std::strerror(errno));
  write_openmetrics(out, rec, info, options);
  out.flush();
  if (!out) return internal_error("writing " + path + " failed: " + std::strerror(errno));
  return Status::ok();
}

}  // namespace chatscale::sim
