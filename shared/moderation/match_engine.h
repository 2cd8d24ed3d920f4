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
#include <cstdint>
#include <utility>
#include <vector>

#include "moderation/categories.h"
#include "moderation/lexicon.h"
#include "moderation/text_normalizer.h"

namespace chatscale::moderation_detail {

// Every exact word of a lexicon, numbered, so that matching compares integers.
using WordId = std::uint32_t;
using Vocabulary = std::unordered_map<std::string, WordId>;

// Patterns indexed by their first word.
class PatternIndex {
 public:
  void add(const Pattern& pattern, std::size_t id);
  // Sorted, unique ids of the patterns whose first word matches the token (by its word ids or, for
  // prefix words, its spellings).
  std::vector<std::size_t> candidates(const Token& token, const std::vector<WordId>& ids) const;

 private:
  std::unordered_map<WordId, std::vector<std::size_t>> exact_;
  // Prefix words keyed by their first three characters.
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::size_t>>> prefixes_;
};

// What the engine needs to know about a pattern to decide when retrying it can change anything.
struct PatternInfo {
  std::size_t span = 0;       // most words a match can cover
  std::vector<WordId> words;  // every exact word of the pattern, sorted
  bool has_prefixes = false;  // prefix words are checked on every new token
};

struct CompiledLexicon {
  Lexicon lexicon;  // with exact_ids filled in
  Vocabulary vocabulary;
  PatternIndex rule_index;
  PatternIndex safe_index;
  std::vector<PatternInfo> rule_info;
  std::vector<PatternInfo> safe_info;
};

std::shared_ptr<const CompiledLexicon> compile_lexicon(Lexicon lexicon);

class MatchEngine {
 public:
  explicit MatchEngine(std::shared_ptr<const CompiledLexicon> lexicon);

  void push(Token token);
  // The next token (if any) starts a new clause: matches waiting for more words can be decided now.
  // Gives the same decisions as waiting for that token, only sooner.
  void close_clause();
  // No more tokens: resolves every pending match.
  void finish();

  // Per-category scores so far (noisy-or of the matched rules' weights, children lifting parents).
  std::array<double, kModerationCategoryCount> scores() const;
  // Lexicon line numbers of the rules matched so far, in match order.
  const std::vector<int>& matched_lines() const { return matched_lines_; }
  std::size_t tokens_seen() const { return total_; }
  // Tokens still held in the window (bounded by the lexicon's longest pattern, not the text).
  std::size_t tokens_retained() const { return window_.size(); }

 private:
  // kNeedMore: the text may still extend the match. kNeedMask: a word matches but whether a safe
  // phrase covers it is not settled yet.
  enum class Outcome { kMatched, kFailed, kNeedMore, kNeedMask };
  struct Slot {
    Token token;
    std::vector<WordId> ids;  // vocabulary ids of the token's spellings, sorted
    bool masked = false;   // covered by a safe pattern: rule words cannot match it
    bool negator = false;
    bool unnegator = false;  // cancels a negator right before it ("can't wait")
  };
  struct Pending {
    std::size_t start;
    std::size_t pattern;
    bool waiting_for_mask = false;
  };
  // A pending match is retried only when that can change its outcome: a word of its pattern
  // arrived, its span is complete, the mask it waits for settled, or the clause or text ended.
  bool worth_retrying(const Pending& p, const PatternInfo& info, bool force, bool masks_moved) const;
  using Anchors = std::array<std::size_t, kMaxPatternWords>;

  Slot& slot(std::size_t index) { return window_[index - base_]; }
  const Slot& slot(std::size_t index) const { return window_[index - base_]; }
  void resolve_safe(bool force);
  void resolve_rules(bool force, bool masks_moved);
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
  bool clause_closed_ = false;  // no pattern may continue past the last token
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
