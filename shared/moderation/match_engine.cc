#include "moderation/match_engine.h"

#include <algorithm>

namespace chatscale::moderation_detail {
namespace {

// How many words before a match are searched for a negator.
constexpr std::size_t kNegationWindow = 3;

bool element_matches(const WordElement& element, const Token& token) {
  for (const std::string& spelling : token.spellings) {
    if (!token.truncated && std::binary_search(element.exact.begin(), element.exact.end(), spelling)) {
      return true;
    }
    for (const std::string& prefix : element.prefixes) {
      if (spelling.starts_with(prefix)) return true;
    }
  }
  return false;
}

bool in_word_list(const std::vector<std::string>& words, const Token& token) {
  if (token.truncated) return false;
  return std::any_of(token.spellings.begin(), token.spellings.end(), [&](const std::string& s) {
    return std::binary_search(words.begin(), words.end(), s);
  });
}

std::size_t pattern_span(const Pattern& pattern) {
  std::size_t span = 0;
  for (const WordElement& w : pattern.words) span += 1 + static_cast<std::size_t>(w.gap_before);
  return span;
}

}  // namespace

void PatternIndex::add(const Pattern& pattern, std::size_t id) {
  const WordElement& first = pattern.words.front();
  for (const std::string& word : first.exact) exact_[word].push_back(id);
  for (const std::string& prefix : first.prefixes) prefixes_[prefix.substr(0, 3)].emplace_back(prefix, id);
}

std::vector<std::size_t> PatternIndex::candidates(const Token& token) const {
  std::vector<std::size_t> ids;
  for (const std::string& spelling : token.spellings) {
    if (!token.truncated) {
      auto it = exact_.find(spelling);
      if (it != exact_.end()) ids.insert(ids.end(), it->second.begin(), it->second.end());
    }
    if (spelling.size() < 3) continue;
    auto it = prefixes_.find(spelling.substr(0, 3));
    if (it == prefixes_.end()) continue;
    for (const auto& [prefix, id] : it->second) {
      if (spelling.starts_with(prefix)) ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::shared_ptr<const CompiledLexicon> compile_lexicon(Lexicon lexicon) {
  auto compiled = std::make_shared<CompiledLexicon>();
  compiled->lexicon = std::move(lexicon);
  const Lexicon& lex = compiled->lexicon;
  for (std::size_t i = 0; i < lex.rules.size(); ++i) compiled->rule_index.add(lex.rules[i].pattern, i);
  for (std::size_t i = 0; i < lex.safe.size(); ++i) compiled->safe_index.add(lex.safe[i], i);
  return compiled;
}

MatchEngine::MatchEngine(std::shared_ptr<const CompiledLexicon> lexicon)
    : lexicon_(std::move(lexicon)), rule_hit_(lexicon_->lexicon.rules.size(), false) {
  keep_.fill(1.0);
}

void MatchEngine::push(Token token) {
  if (finished_) return;
  const Lexicon& lex = lexicon_->lexicon;
  std::size_t index = total_++;
  Slot slot{std::move(token)};
  slot.negator = in_word_list(lex.negators, slot.token);
  slot.unnegator = in_word_list(lex.unnegators, slot.token);
  for (std::size_t id : lexicon_->safe_index.candidates(slot.token)) safe_pending_.push_back({index, id});
  for (std::size_t id : lexicon_->rule_index.candidates(slot.token)) {
    if (!rule_hit_[id]) rule_pending_.push_back({index, id});
  }
  window_.push_back(std::move(slot));
  resolve_safe();
  resolve_rules();
  trim();
}

void MatchEngine::finish() {
  if (finished_) return;
  finished_ = true;
  resolve_safe();
  resolve_rules();
  trim();
}

void MatchEngine::resolve_safe() {
  std::size_t kept = 0;  // compacted in place, keeping the order by start
  Anchors anchors{};
  for (const Pending& p : safe_pending_) {
    const Pattern& pattern = lexicon_->lexicon.safe[p.pattern];
    Outcome outcome = match(pattern, p.start, /*rule_mode=*/false, anchors);
    if (outcome == Outcome::kNeedMore) {
      safe_pending_[kept++] = p;
    } else if (outcome == Outcome::kMatched) {
      for (std::size_t w = 0; w < pattern.words.size(); ++w) slot(anchors[w]).masked = true;
    }
  }
  safe_pending_.resize(kept);
  // Only a safe pattern starting at or before a token can cover it.
  mask_limit_ = safe_pending_.empty() ? total_ : safe_pending_.front().start;
}

void MatchEngine::resolve_rules() {
  std::size_t kept = 0;
  Anchors anchors{};
  for (std::size_t k = 0; k < rule_pending_.size(); ++k) {
    Pending p = rule_pending_[k];
    if (rule_hit_[p.pattern]) continue;
    const Pattern& pattern = lexicon_->lexicon.rules[p.pattern].pattern;
    Outcome outcome = match(pattern, p.start, /*rule_mode=*/true, anchors);
    if (outcome == Outcome::kNeedMore) {
      rule_pending_[kept++] = p;
    } else if (outcome == Outcome::kMatched && !negated(pattern, p.start, anchors)) {
      record_hit(p.pattern);
    }
  }
  rule_pending_.resize(kept);
}

void MatchEngine::trim() {
  std::size_t keep = total_;
  if (!safe_pending_.empty()) keep = std::min(keep, safe_pending_.front().start);
  if (!rule_pending_.empty()) keep = std::min(keep, rule_pending_.front().start);
  keep = keep > kNegationWindow ? keep - kNegationWindow : 0;
  while (base_ < keep) {
    window_.pop_front();
    ++base_;
  }
}

MatchEngine::Outcome MatchEngine::match(const Pattern& pattern, std::size_t start, bool rule_mode,
                                        Anchors& anchors) {
  memo_start_ = start;
  memo_span_ = pattern_span(pattern) + 1;
  failed_.assign(pattern.words.size() * memo_span_, false);
  return match_from(pattern, 0, start, rule_mode, anchors);
}

// Tries word `word` at pos, pos+1, ... (up to its gap), recursing into the next word. Alternatives
// are searched in order, and an undecidable one (text not yet there, or a mask not yet final)
// stops the search: a later alternative may only be taken once every earlier one has failed.
MatchEngine::Outcome MatchEngine::match_from(const Pattern& pattern, std::size_t word, std::size_t pos,
                                             bool rule_mode, Anchors& anchors) {
  std::size_t memo = word * memo_span_ + (pos - memo_start_);
  if (failed_[memo]) return Outcome::kFailed;
  const WordElement& element = pattern.words[word];
  std::size_t gap = word == 0 ? 0 : static_cast<std::size_t>(element.gap_before);
  for (std::size_t i = pos; i <= pos + gap; ++i) {
    if (i >= total_) return finished_ ? Outcome::kFailed : Outcome::kNeedMore;
    const Slot& s = slot(i);
    if (word > 0 && s.token.clause_start) break;  // never across clause punctuation
    if (!element_matches(element, s.token)) continue;
    if (rule_mode && i >= mask_limit_) return Outcome::kNeedMore;
    if (rule_mode && s.masked) continue;
    anchors[word] = i;
    if (word + 1 == pattern.words.size()) return Outcome::kMatched;
    Outcome next = match_from(pattern, word + 1, i + 1, rule_mode, anchors);
    if (next != Outcome::kFailed) return next;
  }
  failed_[memo] = true;
  return Outcome::kFailed;
}

bool MatchEngine::negated(const Pattern& pattern, std::size_t start, const Anchors& anchors) const {
  for (std::size_t j = start, steps = 0; j > base_ && steps < kNegationWindow; --j, ++steps) {
    if (slot(j).token.clause_start) break;
    if (negates(j - 1)) return true;
  }
  for (std::size_t w = 1; w < pattern.words.size(); ++w) {
    for (std::size_t i = anchors[w - 1] + 1; i < anchors[w]; ++i) {
      if (negates(i)) return true;
    }
  }
  return false;
}

// A negator negates unless the next word cancels it; that word is always present here (it is the
// match's start or inside the match).
bool MatchEngine::negates(std::size_t index) const {
  return slot(index).negator && !slot(index + 1).unnegator;
}

void MatchEngine::record_hit(std::size_t rule) {
  const LexiconRule& r = lexicon_->lexicon.rules[rule];
  rule_hit_[rule] = true;
  matched_lines_.push_back(r.pattern.line);
  for (std::size_t c : r.categories) keep_[c] *= 1.0 - r.weight;
}

std::array<double, kModerationCategoryCount> MatchEngine::scores() const {
  std::array<double, kModerationCategoryCount> out{};
  for (std::size_t c = 0; c < out.size(); ++c) out[c] = std::clamp(1.0 - keep_[c], 0.0, 1.0);
  for (std::size_t c = 0; c < out.size(); ++c) {
    std::optional<std::size_t> parent = moderation_category_parent(c);
    if (parent) out[*parent] = std::max(out[*parent], out[c]);
  }
  return out;
}

}  // namespace chatscale::moderation_detail
