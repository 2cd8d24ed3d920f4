#include "moderation/evaluation.h"

#include <cstdio>
#include <optional>
#include <set>

namespace chatscale {
namespace {

using LabelSet = std::set<std::size_t>;

struct Example {
  int line = 0;
  LabelSet labels;
  std::string_view split;
  std::string_view sentence;
};

Result<LabelSet> parse_labels(std::string_view field) {
  LabelSet labels;
  if (field == "none") return labels;
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t comma = field.find(',', start);
    if (comma == std::string_view::npos) comma = field.size();
    std::string_view name = field.substr(start, comma - start);
    std::optional<std::size_t> index = moderation_category_index(name);
    if (!index) return invalid_argument("unknown category '" + std::string(name) + "'");
    labels.insert(*index);
    std::optional<std::size_t> parent = moderation_category_parent(*index);
    if (parent) labels.insert(*parent);
    start = comma + 1;
  }
  return labels;
}

// nullopt for a line to skip.
Result<std::optional<Example>> parse_example(std::string_view line, int number) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() || line[0] == '#') return std::optional<Example>();
  std::size_t tab1 = line.find('\t');
  std::size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
  if (tab2 == std::string_view::npos) return invalid_argument("expected LABELS<TAB>SPLIT<TAB>SENTENCE");
  Example example;
  example.line = number;
  CS_ASSIGN_OR_RETURN(example.labels, parse_labels(line.substr(0, tab1)));
  example.split = line.substr(tab1 + 1, tab2 - tab1 - 1);
  example.sentence = line.substr(tab2 + 1);
  if (example.split.empty()) return invalid_argument("empty split");
  if (example.sentence.empty()) return invalid_argument("empty sentence");
  return std::optional<Example>(example);
}

std::string label_names(const LabelSet& labels) {
  if (labels.empty()) return "none";
  std::string out;
  for (std::size_t index : labels) {
    if (!out.empty()) out += ',';
    out += moderation_categories()[index];
  }
  return out;
}

void count(DetectionCounts& counts, bool expected, bool predicted) {
  if (expected && predicted) ++counts.true_positives;
  if (!expected && predicted) ++counts.false_positives;
  if (expected && !predicted) ++counts.false_negatives;
  if (!expected && !predicted) ++counts.true_negatives;
}

void score_example(const Moderator& moderator, const Example& example, ModerationEval& eval) {
  ModerationResult result = moderator.classify(example.sentence);
  LabelSet predicted;
  for (const std::string& name : result.categories) predicted.insert(*moderation_category_index(name));
  ++eval.sentences;
  count(eval.overall, !example.labels.empty(), result.flagged);
  for (std::size_t c = 0; c < kModerationCategoryCount; ++c) {
    count(eval.categories[c], example.labels.count(c) != 0, predicted.count(c) != 0);
  }
  if (predicted != example.labels) {
    eval.mistakes.push_back("line " + std::to_string(example.line) + ": expected " +
                          label_names(example.labels) + ", got " + label_names(predicted) + ": " +
                          std::string(example.sentence));
  }
}

std::string percent(double value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%5.1f%%", 100.0 * value);
  return buffer;
}

std::string table_row(std::string_view name, const DetectionCounts& c) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "%-24.*s %6s %6s %5zu %5zu %5zu\n", static_cast<int>(name.size()),
                name.data(), percent(c.precision()).c_str(), percent(c.recall()).c_str(),
                c.true_positives, c.false_positives, c.false_negatives);
  return buffer;
}

}  // namespace

double DetectionCounts::precision() const {
  std::size_t predicted = true_positives + false_positives;
  return predicted == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(predicted);
}

double DetectionCounts::recall() const {
  std::size_t positives = true_positives + false_negatives;
  return positives == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(positives);
}

Result<ModerationEval> evaluate(const Moderator& moderator, std::string_view tsv, std::string_view split) {
  ModerationEval eval;
  int number = 0;
  std::size_t pos = 0;
  while (pos < tsv.size()) {
    std::size_t end = tsv.find('\n', pos);
    if (end == std::string_view::npos) end = tsv.size();
    ++number;
    Result<std::optional<Example>> example = parse_example(tsv.substr(pos, end - pos), number);
    if (!example.is_ok()) {
      return invalid_argument("line " + std::to_string(number) + ": " + example.status().message());
    }
    if (example.value() && (split.empty() || example.value()->split == split)) {
      score_example(moderator, **example, eval);
    }
    pos = end + 1;
  }
  return eval;
}

std::string format_eval_table(const ModerationEval& eval, std::string_view title) {
  std::string out(title);
  out += " (" + std::to_string(eval.sentences) + " sentences)\n";
  out += "category                 precis recall    tp    fp    fn\n";
  out += table_row("flagged (any category)", eval.overall);
  auto names = moderation_categories();
  for (std::size_t c = 0; c < kModerationCategoryCount; ++c) out += table_row(names[c], eval.categories[c]);
  return out;
}

}  // namespace chatscale
