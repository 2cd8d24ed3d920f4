#include "scenario/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace chatscale {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53: larger doubles skip integers

int mark_line(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  const int line = node.Mark().line;
  return line < 0 ? fallback : line + 1;
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  out += text.substr(0, kMax);
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  if (node.IsNull()) return "nothing (null)";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return quote(node.Scalar());
}

// Drops '_' digit separators (1_000_000) and a leading '+'; from_chars accepts neither.
std::string clean_number(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool separator = text[i] == '_' && i > 0 && i + 1 < text.size() &&
                           std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
                           std::isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!separator) out += text[i];
  }
  if (!out.empty() && out[0] == '+') out.erase(0, 1);
  return out;
}

std::optional<double> parse_double(std::string_view text) {
  const std::string s = clean_number(text);
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string schema_of(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    out += path[i];
    if (path[i] != '[') continue;
    while (i + 1 < path.size() && path[i + 1] != ']') ++i;
  }
  return out;
}

std::string display_path(std::string_view path) {
  return path.empty() ? "(document)" : std::string(path);
}

// Control characters from the file (a stray byte in a key, say) are shown as \xNN, so every error stays
// one printable line.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

}  // namespace

std::string Range::check(double value) const {
  const bool low = min_exclusive ? !(value > min) : !(value >= min);
  const bool high = !(value <= max);
  if (!low && !high) return "";
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  if (has_min && has_max) {
    if (min_exclusive) return "must be greater than " + format_yaml_number(min) + " and at most " + format_yaml_number(max);
    return "must be between " + format_yaml_number(min) + " and " + format_yaml_number(max);
  }
  if (has_min) return (min_exclusive ? "must be greater than " : "must be at least ") + format_yaml_number(min);
  return "must be at most " + format_yaml_number(max);
}

std::string format_yaml_number(double value) {
  if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({up + 1, row[j - 1] + 1, substitute});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // A typo is at most a third of the word away (1 for short words, never more than 3), and never the
  // whole word ("w" is not a typo of "v").
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance && d < word.size()) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

// ---- YamlDocument ----

YamlDocument::YamlDocument(std::string filename, bool schema_walk)
    : filename_(std::move(filename)), schema_walk_(schema_walk) {}

bool YamlDocument::load(std::string_view text) {
  try {
    root_ = YAML::Load(std::string(text));
    return true;
  } catch (const YAML::Exception& e) {
    // ParserException and DeepRecursion carry the mark; a null mark has line -1.
    error(e.mark.line + 1, "", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    error(1, "", std::string("YAML syntax error: ") + e.what());
  }
  root_ = YAML::Node();
  return false;
}

void YamlDocument::error(int line, std::string_view path, std::string_view problem) {
  if (schema_walk_) return;
  if (line < 1) line = 1;
  errors_.push_back({line, filename_ + ":" + std::to_string(line) + ": " + printable(display_path(path)) + ": " +
                               printable(problem)});
}

int YamlDocument::line_of(std::string_view path) const {
  std::string p(path);
  while (!p.empty()) {
    auto it = lines_.find(p);
    if (it != lines_.end()) return it->second;
    const std::size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
  return 1;
}

void YamlDocument::error_at(std::string_view path, std::string_view problem) {
  error(line_of(path), path, problem);
}

Status YamlDocument::status() const {
  if (errors_.empty()) return Status::ok();
  std::vector<Error> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Error& a, const Error& b) { return a.line < b.line; });
  std::string message;
  const std::size_t shown = std::min(sorted.size(), kMaxErrors);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) message += '\n';
    message += sorted[i].text;
  }
  if (sorted.size() > shown) {
    message += "\n... and " + std::to_string(sorted.size() - shown) + " more errors";
  }
  return invalid_argument(std::move(message));
}

void YamlDocument::note_schema_path(const std::string& path) { schema_paths_.insert(schema_of(path)); }

// ---- YamlMap ----

YamlMap::YamlMap(YamlDocument& doc, const YAML::Node& node, std::string path, int line)
    : doc_(doc), path_(std::move(path)), line_(line) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    doc_.error(mark_line(node, line_), path_, "expected a map, got " + describe(node));
    wrong_type_ = true;
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int key_line = mark_line(it->first, line_);
    if (!it->first.IsScalar()) {
      doc_.error(key_line, path_, "field names must be plain text, got " + describe(it->first));
      continue;
    }
    Entry entry{it->first.Scalar(), it->second, key_line, mark_line(it->second, key_line)};
    auto first = std::find_if(entries_.begin(), entries_.end(),
                              [&](const Entry& e) { return e.key == entry.key; });
    if (first != entries_.end()) {
      doc_.error(key_line, child_path(entry.key),
                 "duplicate field (first set on line " + std::to_string(first->key_line) + ")");
      continue;
    }
    doc_.note_line(child_path(entry.key), entry.key_line);
    entries_.push_back(std::move(entry));
  }
}

std::string YamlMap::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool YamlMap::has(std::string_view key) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
}

const YamlMap::Entry* YamlMap::lookup(std::string_view key) {
  known_.emplace(key);
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

void YamlMap::require(std::initializer_list<std::string_view> keys) {
  if (wrong_type_) return;
  for (std::string_view key : keys) {
    if (!has(key)) doc_.error(line_, child_path(key), "missing required field");
  }
}

void YamlMap::type_error(const Entry& e, std::string_view expected) {
  doc_.error(e.value_line, child_path(e.key), "expected " + std::string(expected) + ", got " + describe(e.value));
}

bool YamlMap::scalar_number(const Entry& e, double& value, std::string_view expected) {
  if (!e.value.IsScalar()) {
    type_error(e, expected);
    return false;
  }
  const auto parsed = parse_double(e.value.Scalar());
  if (!parsed) {
    type_error(e, expected);
    return false;
  }
  value = *parsed;
  return true;
}

void YamlMap::number(std::string_view key, double& out, Range range) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  double value = 0;
  if (e == nullptr || !scalar_number(*e, value, "a number")) return;
  const std::string problem = range.check(value);
  if (!problem.empty()) {
    doc_.error(e->value_line, child_path(key), problem + ", got " + e->value.Scalar());
    return;
  }
  out = value;
}

void YamlMap::integer(std::string_view key, std::int64_t& out, Range range) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  double value = 0;
  if (e == nullptr || !scalar_number(*e, value, "a whole number")) return;
  if (std::floor(value) != value || std::fabs(value) > kMaxExactInteger) {
    type_error(*e, "a whole number");
    return;
  }
  const std::string problem = range.check(value);
  if (!problem.empty()) {
    doc_.error(e->value_line, child_path(key), problem + ", got " + e->value.Scalar());
    return;
  }
  // Beyond 2^53 a double skips integers; reparse exactly when the text is a plain integer.
  const std::string text = clean_number(e->value.Scalar());
  std::int64_t exact = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), exact);
  out = (ec == std::errc() && end == text.data() + text.size()) ? exact : static_cast<std::int64_t>(value);
}

void YamlMap::integer(std::string_view key, int& out, Range range) {
  range.min = std::max(range.min, static_cast<double>(std::numeric_limits<int>::min()));
  range.max = std::min(range.max, static_cast<double>(std::numeric_limits<int>::max()));
  std::int64_t value = out;
  integer(key, value, range);
  out = static_cast<int>(value);
}

void YamlMap::boolean(std::string_view key, bool& out) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return;
  const std::string text = e->value.IsScalar() ? e->value.Scalar() : "";
  if (text == "true" || text == "True" || text == "TRUE") {
    out = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    out = false;
  } else {
    type_error(*e, "true or false");
  }
}

void YamlMap::text(std::string_view key, std::string& out, bool allow_empty) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return;
  if (!e->value.IsScalar()) {
    type_error(*e, "a string");
    return;
  }
  if (!allow_empty && e->value.Scalar().empty()) {
    doc_.error(e->value_line, child_path(key), "must not be empty");
    return;
  }
  out = e->value.Scalar();
}

bool YamlMap::choice_index(std::string_view key, const std::vector<std::string_view>& names,
                           std::size_t& index) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return false;
  if (!e->value.IsScalar()) {
    type_error(*e, "a name");
    return false;
  }
  const std::string& value = e->value.Scalar();
  std::vector<std::string> candidates;
  std::string listed;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == value) {
      index = i;
      return true;
    }
    candidates.emplace_back(names[i]);
    listed += (i > 0 ? ", " : "") + std::string(names[i]);
  }
  std::string problem = "must be one of " + listed + ", got " + quote(value);
  const std::string suggestion = closest_match(value, candidates);
  if (!suggestion.empty()) problem += " (did you mean \"" + suggestion + "\"?)";
  doc_.error(e->value_line, child_path(key), problem);
  return false;
}

bool YamlMap::number_list(const YAML::Node& list, const std::string& path, int line, Range range,
                          std::vector<double>& out) {
  if (!list.IsSequence()) {
    doc_.error(line, path, "expected a list of numbers, got " + describe(list));
    return false;
  }
  out.clear();
  bool ok = true;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const int item_line = mark_line(item, line);
    const auto parsed = item.IsScalar() ? parse_double(item.Scalar()) : std::nullopt;
    if (!parsed) {
      doc_.error(item_line, item_path, "expected a number, got " + describe(item));
      ok = false;
      continue;
    }
    const std::string problem = range.check(*parsed);
    if (!problem.empty()) {
      doc_.error(item_line, item_path, problem + ", got " + item.Scalar());
      ok = false;
    }
    out.push_back(*parsed);
  }
  return ok;
}

void YamlMap::numbers(std::string_view key, std::vector<double>& out, Range range, std::size_t exact_size) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return;
  std::vector<double> values;
  if (!number_list(e->value, child_path(key), e->value_line, range, values)) return;
  if (exact_size > 0 && values.size() != exact_size) {
    doc_.error(e->value_line, child_path(key),
               "expected " + std::to_string(exact_size) + " values, got " + std::to_string(values.size()));
    return;
  }
  out = std::move(values);
}

void YamlMap::matrix(std::string_view key, std::vector<std::vector<double>>& out, Range range) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return;
  if (!e->value.IsSequence()) {
    type_error(*e, "a list of lists of numbers");
    return;
  }
  std::vector<std::vector<double>> rows(e->value.size());
  bool ok = true;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const YAML::Node row = e->value[i];
    const std::string row_path = child_path(key) + "[" + std::to_string(i) + "]";
    ok = number_list(row, row_path, mark_line(row, e->value_line), range, rows[i]) && ok;
    if (ok && rows[i].size() != rows[0].size()) {
      doc_.error(mark_line(row, e->value_line), row_path,
                 "expected " + std::to_string(rows[0].size()) + " values like row 0, got " +
                     std::to_string(rows[i].size()));
      ok = false;
    }
  }
  if (ok) out = std::move(rows);
}

void YamlMap::section(std::string_view key, const std::function<void(YamlMap&)>& read) {
  const Entry* e = lookup(key);
  YamlMap child(doc_, e != nullptr ? e->value : YAML::Node(), child_path(key),
                e != nullptr ? e->key_line : line_);
  read(child);
  child.finish();
}

std::size_t YamlMap::list(std::string_view key, const std::function<void(YamlMap&)>& read_item) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (doc_.schema_walk()) {
    YamlMap item(doc_, YAML::Node(), child_path(key) + "[]", line_);
    read_item(item);
    item.finish();
    return 0;
  }
  if (e == nullptr || e->value.IsNull()) return 0;
  if (!e->value.IsSequence()) {
    type_error(*e, "a list");
    return 0;
  }
  for (std::size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node node = e->value[i];
    const std::string item_path = child_path(key) + "[" + std::to_string(i) + "]";
    const int line = mark_line(node, e->value_line);
    doc_.note_line(item_path, line);
    YamlMap item(doc_, node, item_path, line);
    read_item(item);
    item.finish();
  }
  return e->value.size();
}

void YamlMap::number_map(std::string_view key, std::map<std::string, double>& out, Range range) {
  doc_.note_schema_path(child_path(key));
  const Entry* e = lookup(key);
  if (e == nullptr) return;
  if (!e->value.IsMap()) {
    type_error(*e, "a map of names to numbers");
    return;
  }
  // The free-form keys read through a nested YamlMap, which already checks duplicates and key types.
  YamlMap inner(doc_, e->value, child_path(key), e->key_line);
  std::map<std::string, double> values;
  bool ok = true;
  for (const Entry& item : inner.entries_) {
    double value = 0;
    if (!inner.scalar_number(item, value, "a number")) {
      ok = false;
      continue;
    }
    const std::string problem = range.check(value);
    if (!problem.empty()) {
      doc_.error(item.value_line, inner.child_path(item.key), problem + ", got " + item.value.Scalar());
      ok = false;
      continue;
    }
    values[item.key] = value;
  }
  inner.finished_ = true;
  if (ok) out = std::move(values);
}

void YamlMap::finish() {
  if (finished_) return;
  finished_ = true;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const Entry& e : entries_) {
    if (known_.count(e.key) > 0) continue;
    std::string problem = "unknown field " + quote(e.key);
    const std::string suggestion = closest_match(e.key, known);
    if (!suggestion.empty()) problem += " (did you mean \"" + suggestion + "\"?)";
    doc_.error(e.key_line, child_path(e.key), problem);
  }
}

void read_root(YamlDocument& doc, const std::function<void(YamlMap&)>& read) {
  if (doc.has_errors()) return;  // a syntax error leaves nothing to read
  YamlMap root(doc, doc.root(), "", 1);
  read(root);
  root.finish();
}

}  // namespace chatscale
