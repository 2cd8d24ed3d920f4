// A small declarative reader for YAML configuration files (scenarios, tier files, the server config).
//
// YamlDocument owns one parsed file and the errors found in it; YamlMap reads one mapping of it with
// typed getters that check types and ranges, track the dotted field path ("regions[2].user_share"),
// and, when the mapping is done, report every key nobody asked for as an unknown field with a
// did-you-mean suggestion. Errors are collected, not thrown: a file shows all its problems at once, as
// "file:line: field.path: problem" (line 1-based), joined by newlines and capped at kMaxErrors.
//
// A getter leaves its output untouched when the key is absent, so a struct's member initialisers are
// the defaults. Every getter also records the key's schema path ("regions[].user_share"), so the set of
// accepted keys can be listed (schema walk) and checked against the documentation.
//
// Ownership: YamlMap holds a reference to its YamlDocument, which must outlive it.
// Thread-safety: none; one document is read by one thread. yaml-cpp exceptions never escape.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace chatscale {

// An allowed interval for a number; check() returns "" or the problem ("must be between 0 and 1").
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;

  static Range any() { return {}; }
  static Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false}; }
  static Range positive() { return {0, std::numeric_limits<double>::infinity(), true}; }
  static Range between(double lo, double hi) { return {lo, hi, false}; }
  static Range fraction() { return between(0, 1); }
  std::string check(double value) const;
};

// Shortest readable form of a number for messages: integers without exponent, others %g-like.
std::string format_yaml_number(double value);
// Levenshtein distance, for did-you-mean suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

class YamlDocument {
 public:
  static constexpr std::size_t kMaxErrors = 20;

  // `schema_walk`: no text is read; every list visits one empty item and errors are ignored, so a
  // reader run over it records every key path it accepts (see schema_paths()).
  explicit YamlDocument(std::string filename, bool schema_walk = false);

  // Parses `text`. A syntax error is recorded (with its line) and the root becomes null.
  bool load(std::string_view text);
  const YAML::Node& root() const { return root_; }
  const std::string& filename() const { return filename_; }
  bool schema_walk() const { return schema_walk_; }

  // Records "filename:line: path: problem". `line` is 1-based; values below 1 print as 1.
  void error(int line, std::string_view path, std::string_view problem);
  // Same, at the line where `path` was seen in the file (the nearest recorded parent's line otherwise).
  void error_at(std::string_view path, std::string_view problem);
  int line_of(std::string_view path) const;
  // Whether the file set exactly this path ("regions", "regions[0].name").
  bool has_path(std::string_view path) const { return lines_.find(path) != lines_.end(); }
  bool has_errors() const { return !errors_.empty(); }
  // OK, or kInvalidArgument whose message lists the errors in line order, one per line.
  Status status() const;

  // Key paths with list indices as "[]", every one a reader asked for.
  const std::set<std::string>& schema_paths() const { return schema_paths_; }

  // Used by YamlMap.
  void note_line(const std::string& path, int line) { lines_.emplace(path, line); }
  void note_schema_path(const std::string& path);

 private:
  struct Error {
    int line;
    std::string text;
  };
  std::string filename_;
  bool schema_walk_;
  YAML::Node root_;
  std::vector<Error> errors_;
  std::map<std::string, int, std::less<>> lines_;
  std::set<std::string> schema_paths_;
};

class YamlMap {
 public:
  // Reads `node` at `path`, whose key sits on 1-based `line`. An undefined or null node reads as an
  // empty mapping; any other non-mapping is reported once and then reads as empty.
  YamlMap(YamlDocument& doc, const YAML::Node& node, std::string path, int line);
  YamlMap(const YamlMap&) = delete;
  YamlMap& operator=(const YamlMap&) = delete;

  const std::string& path() const { return path_; }
  int line() const { return line_; }
  bool has(std::string_view key) const;
  // Reports each absent key as "missing required field" (unless the node itself was not a mapping).
  void require(std::initializer_list<std::string_view> keys);

  void number(std::string_view key, double& out, Range range = Range::any());
  void integer(std::string_view key, std::int64_t& out, Range range = Range::any());
  void integer(std::string_view key, int& out, Range range = Range::any());
  void boolean(std::string_view key, bool& out);
  void text(std::string_view key, std::string& out, bool allow_empty = false);
  // One of a fixed set of names, mapped to a value.
  template <typename E>
  void choice(std::string_view key, E& out, std::initializer_list<std::pair<std::string_view, E>> names);
  // A list of numbers; `exact_size` > 0 requires that many.
  void numbers(std::string_view key, std::vector<double>& out, Range range, std::size_t exact_size = 0);
  // A list of equally long lists of numbers.
  void matrix(std::string_view key, std::vector<std::vector<double>>& out, Range range);
  // A mapping of free-form names to numbers (e.g. prices per provider).
  void number_map(std::string_view key, std::map<std::string, double>& out, Range range);

  // A nested mapping, read by `read`; its unknown keys are reported when `read` returns.
  void section(std::string_view key, const std::function<void(YamlMap&)>& read);
  // A list of mappings, each read by `read_item` at "key[i]". Returns the number of items.
  std::size_t list(std::string_view key, const std::function<void(YamlMap&)>& read_item);

  // Reports keys no getter asked for. section(), list() and read_root() call it.
  void finish();

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    int key_line = 1;
    int value_line = 1;  // the key's line when the value is null
  };
  const Entry* lookup(std::string_view key);
  std::string child_path(std::string_view key) const;
  void type_error(const Entry& e, std::string_view expected);
  bool scalar_number(const Entry& e, double& value, std::string_view expected);
  bool number_list(const YAML::Node& list, const std::string& path, int line, Range range,
                   std::vector<double>& out);
  bool choice_index(std::string_view key, const std::vector<std::string_view>& names, std::size_t& index);

  YamlDocument& doc_;
  std::string path_;
  int line_;
  std::vector<Entry> entries_;
  std::set<std::string, std::less<>> known_;
  bool finished_ = false;
  bool wrong_type_ = false;  // the node was not a mapping (already reported); require() stays quiet
};

// Reads the document's root mapping with `read`, then reports its unknown keys.
void read_root(YamlDocument& doc, const std::function<void(YamlMap&)>& read);

template <typename E>
void YamlMap::choice(std::string_view key, E& out,
                     std::initializer_list<std::pair<std::string_view, E>> names) {
  std::vector<std::string_view> labels;
  for (const auto& n : names) labels.push_back(n.first);
  std::size_t index = 0;
  if (choice_index(key, labels, index)) out = (names.begin() + index)->second;
}

}  // namespace chatscale
