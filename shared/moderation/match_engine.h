// Incremental pattern matching over a stream of normalised tokens (text_normalizer.h) against a
// compiled lexicon (lexicon.h). Tokens arrive one at a time; each pattern start is retried only
// until it matches or can no longer match, so the work per token is bounded by the lexicon (the
// longest pattern span), and the total cost is linear in the text. Only a short window of recent
// tokens is kept.
//
// Decisions never depend on how the tokens were batched: a pattern alignment is accepted only when
// every earlier alignment (in search order) has definitively failed, and a rule word is matched
// only once the safe patterns that could cover it are resolved. So feeding a text in pieces gives
// exactly the one-shot result.
// Ownership: the engine shares the immutable CompiledLexicon. Thread-safety: none (one per text).
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "moderation/categories.h"
#include "moderation/lexicon.h"
#include "moderation/text_normalizer.h"

namespace chatscale::moderation_detail {

// Patterns indexed by their first word.
class PatternIndex {
 public:
  void add(const Pattern& pattern, std::size_t id);
  // Sorted, unique ids of the patterns whose first word matches one of the token's spellings.
  std::vector<std::size_t> candidates(const Token& token) const;

 private:
  std::unordered_map<std::string, std::vector<std::size_t>> exact_;
  // Prefix words keyed by their first three characters.
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::size_t>>> prefixes_;
};

struct CompiledLexicon {
  Lexicon lexicon;
  PatternIndex rule_index;
  PatternIndex safe_index;
};

std::shared_ptr<const CompiledLexicon> compile_lexicon(Lexicon lexicon);

class MatchEngine {
 public:
  explicit MatchEngine(std::shared_ptr<const CompiledLexicon> lexicon);

  void push(Token token);
  // No more tokens: resolves every pending match.
  void finish();

  // Per-category scores so far (noisy-or of the matched rules' weights, children lifting parents).
  std::array<double, kModerationCategoryCount> scores() const;
  // Lexicon line numbers of the rules matched so far, in match order.
  const std::vector<int>& matched_lines() const { return matched_lines_; }
  std::size_t tokens_seen() const { return total_; }

 private:
  enum class Outcome { kMatched, kFailed, kNeedMore };
  struct Slot {
    Token token;
    bool masked = false;   // covered by a safe pattern: rule words cannot match it
    bool negator = false;
    bool unnegator = false;  // cancels a negator right before it ("can't wait")
  };
  struct Pending {
    std::size_t start;
    std::size_t pattern;
  };
  using Anchors = std::array<std::size_t, kMaxPatternWords>;

  Slot& slot(std::size_t index) { return window_[index - base_]; }
  const Slot& slot(std::size_t index) const { return window_[index - base_]; }
  void resolve_safe();
  void resolve_rules();
  void trim();
  Outcome match(const Pattern& pattern, std::size_t start, bool rule_mode, Anchors& anchors);
  Outcome match_from(const Pattern& pattern, std::size_t word, std::size_t pos, bool rule_mode,
                     Anchors& anchors);
  bool negated(const Pattern& pattern, std::size_t start, const Anchors& anchors) const;
  bool negates(std::size_t index) const;
  void record_hit(std::size_t rule);

  std::shared_ptr<const CompiledLexicon> lexicon_;
  std::deque<Slot> window_;
  std::size_t base_ = 0;   // index of window_.front() in the token stream
  std::size_t total_ = 0;  // tokens pushed
  bool finished_ = false;
  std::size_t mask_limit_ = 0;  // masks of tokens below this index are final
  std::vector<Pending> safe_pending_;  // ordered by start
  std::vector<Pending> rule_pending_;  // ordered by start
  std::vector<bool> rule_hit_;
  std::vector<int> matched_lines_;
  std::array<double, kModerationCategoryCount> keep_;  // prod(1 - weight) per category
  // Scratch for match(): (word, offset from start) pairs known to fail.
  std::size_t memo_start_ = 0;
  std::size_t memo_span_ = 0;
  std::vector<bool> failed_;
};

}  // namespace chatscale::moderation_detail
