#include "moderation/lexicon.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "moderation/text_normalizer.h"

namespace chatscale::moderation_detail {
namespace {

using WordLists = std::map<std::string, std::vector<std::string>, std::less<>>;

std::vector<std::string_view> split(std::string_view s, std::string_view delimiters) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t start = s.find_first_not_of(delimiters, pos);
    if (start == std::string_view::npos) break;
    std::size_t end = s.find_first_of(delimiters, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    pos = end;
  }
  return out;
}

std::vector<std::string_view> split_alternatives(std::string_view field) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t bar = field.find('|', start);
    out.push_back(field.substr(start, bar == std::string_view::npos ? bar : bar - start));
    if (bar == std::string_view::npos) return out;
    start = bar + 1;
  }
}

std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

void sort_unique(std::vector<std::string>& words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
}

// Lowercases and drops apostrophes; the result is the word as the normaliser would spell it.
Result<std::string> normalise_word(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '\'') continue;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return invalid_argument("bad character " + quoted(std::string_view(&c, 1)) + " in word " +
                              quoted(raw) + " (words are a-z, 0-9)");
    }
    out.push_back(c);
  }
  if (out.empty()) return invalid_argument("empty word in " + quoted(raw));
  if (out.size() > kMaxTokenChars) return invalid_argument("word " + quoted(raw) + " is too long");
  return out;
}

Status add_word(std::string_view raw, WordElement& element) {
  bool prefix = !raw.empty() && raw.back() == '*';
  CS_ASSIGN_OR_RETURN(std::string word, normalise_word(prefix ? raw.substr(0, raw.size() - 1) : raw));
  if (prefix && word.size() < 3) {
    return invalid_argument("prefix " + quoted(raw) + " needs at least 3 characters before '*'");
  }
  (prefix ? element.prefixes : element.exact).push_back(std::move(word));
  return Status::ok();
}

// Expands one pattern field ("kill|murder|@PEOPLE") into word alternatives.
Result<std::vector<std::string>> expand_field(std::string_view field, const WordLists& lists) {
  std::vector<std::string> words;
  for (std::string_view alt : split_alternatives(field)) {
    if (alt.empty()) return invalid_argument("empty alternative in " + quoted(field));
    if (alt[0] != '@') {
      words.emplace_back(alt);
      continue;
    }
    auto it = lists.find(alt.substr(1));
    if (it == lists.end()) return invalid_argument("unknown list " + quoted(alt));
    words.insert(words.end(), it->second.begin(), it->second.end());
  }
  return words;
}

Result<int> parse_gap(std::string_view field) {
  if (field == "...") return kDefaultGap;
  std::string_view digits = field.substr(3);
  if (digits.size() != 1 || digits[0] < '1' || digits[0] > '9') {
    return invalid_argument("bad gap " + quoted(field) + " (use ... or ...N with N in 1..9)");
  }
  return digits[0] - '0';
}

Result<Pattern> parse_pattern(const std::vector<std::string_view>& fields, std::size_t first,
                              const WordLists& lists) {
  Pattern pattern;
  std::optional<int> gap;
  for (std::size_t i = first; i < fields.size(); ++i) {
    if (fields[i].starts_with("...")) {
      if (pattern.words.empty()) return invalid_argument("a gap cannot start a pattern");
      if (gap) return invalid_argument("two gaps in a row");
      CS_ASSIGN_OR_RETURN(gap, parse_gap(fields[i]));
      continue;
    }
    WordElement element;
    element.gap_before = gap.value_or(0);
    gap.reset();
    CS_ASSIGN_OR_RETURN(std::vector<std::string> words, expand_field(fields[i], lists));
    for (const std::string& w : words) CS_RETURN_IF_ERROR(add_word(w, element));
    sort_unique(element.exact);
    sort_unique(element.prefixes);
    pattern.words.push_back(std::move(element));
  }
  if (gap) return invalid_argument("a gap cannot end a pattern");
  if (pattern.words.empty()) return invalid_argument("empty pattern");
  if (pattern.words.size() > kMaxPatternWords) {
    return invalid_argument("pattern has more than " + std::to_string(kMaxPatternWords) + " words");
  }
  return pattern;
}

Status parse_define(const std::vector<std::string_view>& fields, WordLists& lists) {
  if (fields.size() < 3) return invalid_argument("expected: define NAME word|word|...");
  std::string_view name = fields[1];
  bool valid = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!valid) return invalid_argument("list name " + quoted(name) + " must be A-Z, 0-9 or _");
  if (lists.count(name) != 0) return invalid_argument("list @" + std::string(name) + " defined twice");
  std::vector<std::string> words;
  for (std::size_t i = 2; i < fields.size(); ++i) {
    CS_ASSIGN_OR_RETURN(std::vector<std::string> more, expand_field(fields[i], lists));
    words.insert(words.end(), more.begin(), more.end());
  }
  WordElement check;
  for (const std::string& w : words) CS_RETURN_IF_ERROR(add_word(w, check));
  lists.emplace(std::string(name), std::move(words));
  return Status::ok();
}

Status parse_word_list(const std::vector<std::string_view>& fields, std::vector<std::string>& out) {
  if (fields.size() < 2) return invalid_argument("expected: " + std::string(fields[0]) + " WORD [WORD ...]");
  for (std::size_t i = 1; i < fields.size(); ++i) {
    CS_ASSIGN_OR_RETURN(std::string word, normalise_word(fields[i]));
    out.push_back(std::move(word));
  }
  return Status::ok();
}



Status parse_threshold(const std::vector<std::string_view>& fields, Lexicon& lexicon) {
  if (fields.size() != 3) return invalid_argument("expected: threshold CATEGORY VALUE");
  std::optional<double> value = parse_number(fields[2]);
  if (!value || !(*value > 0 && *value <= 1)) {
    return invalid_argument("threshold " + quoted(fields[2]) + " must be a number in (0, 1]");
  }
  if (fields[1] == "*") {
    lexicon.thresholds.fill(*value);
    return Status::ok();
  }
  std::optional<std::size_t> category = moderation_category_index(fields[1]);
  if (!category) return invalid_argument("unknown category " + quoted(fields[1]));
  lexicon.thresholds[*category] = *value;
  return Status::ok();
}

Status parse_rule(const std::vector<std::string_view>& fields, const WordLists& lists, int line,
                  Lexicon& lexicon) {
  if (fields.size() < 3) return invalid_argument("expected: CATEGORY WEIGHT PATTERN");
  LexiconRule rule;
  for (std::string_view name : split(fields[0], ",")) {
    std::optional<std::size_t> category = moderation_category_index(name);
    if (!category) return invalid_argument("unknown category " + quoted(name));
    rule.categories.push_back(*category);
  }
  if (rule.categories.empty()) return invalid_argument("missing category");
  std::optional<double> weight = parse_number(fields[1]);
  if (!weight || !(*weight > 0 && *weight <= 1)) {
    return invalid_argument("weight " + quoted(fields[1]) + " must be a number in (0, 1]");
  }
  rule.weight = *weight;
  CS_ASSIGN_OR_RETURN(rule.pattern, parse_pattern(fields, 2, lists));
  rule.pattern.line = line;
  lexicon.rules.push_back(std::move(rule));
  return Status::ok();
}

Status parse_line(std::string_view text, int line, WordLists& lists, Lexicon& lexicon) {
  std::size_t hash = text.find('#');
  if (hash != std::string_view::npos) text = text.substr(0, hash);
  std::vector<std::string_view> fields = split(text, " \t\r");
  if (fields.empty()) return Status::ok();
  std::string_view keyword = fields[0];
  if (keyword == "define") return parse_define(fields, lists);
  if (keyword == "negator") return parse_word_list(fields, lexicon.negators);
  if (keyword == "unnegate") return parse_word_list(fields, lexicon.unnegators);
  if (keyword == "threshold") return parse_threshold(fields, lexicon);
  if (keyword == "safe") {
    CS_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(fields, 1, lists));
    pattern.line = line;
    lexicon.safe.push_back(std::move(pattern));
    return Status::ok();
  }
  return parse_rule(fields, lists, line, lexicon);
}

}  // namespace

Result<Lexicon> parse_lexicon(std::string_view text) {
  Lexicon lexicon;
  lexicon.thresholds.fill(kDefaultThreshold);
  WordLists lists;
  int line = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    Status status = parse_line(text.substr(pos, end - pos), line, lists, lexicon);
    if (!status.is_ok()) return invalid_argument("line " + std::to_string(line) + ": " + status.message());
    pos = end + 1;
  }
  sort_unique(lexicon.negators);
  sort_unique(lexicon.unnegators);
  return lexicon;
}

}  // namespace chatscale::moderation_detail
