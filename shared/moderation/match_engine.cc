#include "moderation/match_engine.h"

#include <algorithm>

namespace chatscale::moderation_detail {
namespace {

// How many words before a match are searched for a negator.
constexpr std::size_t kNegationWindow = 3;

bool element_matches(const WordElement& element, const Token& token, const std::vector<WordId>& ids) {
  for (WordId id : ids) {
    if (std::binary_search(element.exact_ids.begin(), element.exact_ids.end(), id)) return true;
  }
  for (const std::string& prefix : element.prefixes) {
    for (const std::string& spelling : token.spellings) {
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

// Numbers every exact word of every pattern and fills in the patterns' exact_ids.
void intern_words(Lexicon& lexicon, Vocabulary& vocabulary) {
  auto intern = [&vocabulary](Pattern& pattern) {
    for (WordElement& element : pattern.words) {
      element.exact_ids.clear();
      for (const std::string& word : element.exact) {
        auto [it, inserted] = vocabulary.try_emplace(word, static_cast<WordId>(vocabulary.size()));
        element.exact_ids.push_back(it->second);
      }
      std::sort(element.exact_ids.begin(), element.exact_ids.end());
    }
  };
  for (LexiconRule& rule : lexicon.rules) intern(rule.pattern);
  for (Pattern& pattern : lexicon.safe) intern(pattern);
}

std::vector<WordId> word_ids(const Vocabulary& vocabulary, const Token& token) {
  std::vector<WordId> ids;
  if (token.truncated) return ids;  // longer than any lexicon word
  for (const std::string& spelling : token.spellings) {
    auto it = vocabulary.find(spelling);
    if (it != vocabulary.end()) ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::size_t pattern_span(const Pattern& pattern) {
  std::size_t span = 0;
  for (const WordElement& w : pattern.words) span += 1 + static_cast<std::size_t>(w.gap_before);
  return span;
}

PatternInfo pattern_info(const Pattern& pattern) {
  PatternInfo info;
  info.span = pattern_span(pattern);
  for (const WordElement& w : pattern.words) {
    info.words.insert(info.words.end(), w.exact_ids.begin(), w.exact_ids.end());
    info.has_prefixes = info.has_prefixes || !w.prefixes.empty();
  }
  std::sort(info.words.begin(), info.words.end());
  info.words.erase(std::unique(info.words.begin(), info.words.end()), info.words.end());
  return info;
}

bool shares_a_word(const std::vector<WordId>& sorted_words, const std::vector<WordId>& ids) {
  return std::any_of(ids.begin(), ids.end(), [&](WordId id) {
    return std::binary_search(sorted_words.begin(), sorted_words.end(), id);
  });
}

}  // namespace

void PatternIndex::add(const Pattern& pattern, std::size_t id) {
  const WordElement& first = pattern.words.front();
  for (WordId word : first.exact_ids) exact_[word].push_back(id);
  for (const std::string& prefix : first.prefixes) prefixes_[prefix.substr(0, 3)].emplace_back(prefix, id);
}

std::vector<std::size_t> PatternIndex::candidates(const Token& token,
                                                  const std::vector<WordId>& word_ids) const {
  std::vector<std::size_t> ids;
  for (WordId word : word_ids) {
    auto it = exact_.find(word);
    if (it != exact_.end()) ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  for (const std::string& spelling : token.spellings) {
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
  intern_words(compiled->lexicon, compiled->vocabulary);
  const Lexicon& lex = compiled->lexicon;
  for (std::size_t i = 0; i < lex.rules.size(); ++i) {
    compiled->rule_index.add(lex.rules[i].pattern, i);
    compiled->rule_info.push_back(pattern_info(lex.rules[i].pattern));
  }
  for (std::size_t i = 0; i < lex.safe.size(); ++i) {
    compiled->safe_index.add(lex.safe[i], i);
    compiled->safe_info.push_back(pattern_info(lex.safe[i]));
  }
  return compiled;
}

MatchEngine::MatchEngine(std::shared_ptr<const CompiledLexicon> lexicon)
    : lexicon_(std::move(lexicon)), rule_hit_(lexicon_->lexicon.rules.size(), false) {
  keep_.fill(1.0);
}

void MatchEngine::push(Token token) {
  if (finished_) return;
  clause_closed_ = false;
  const Lexicon& lex = lexicon_->lexicon;
  std::size_t index = total_++;
  Slot slot;
  slot.token = std::move(token);
  slot.ids = word_ids(lexicon_->vocabulary, slot.token);
  slot.negator = in_word_list(lex.negators, slot.token);
  slot.unnegator = in_word_list(lex.unnegators, slot.token);
  for (std::size_t id : lexicon_->safe_index.candidates(slot.token, slot.ids)) {
    safe_pending_.push_back({index, id});
  }
  for (std::size_t id : lexicon_->rule_index.candidates(slot.token, slot.ids)) {
    if (!rule_hit_[id]) rule_pending_.push_back({index, id});
  }
  window_.push_back(std::move(slot));
  std::size_t old_mask_limit = mask_limit_;
  resolve_safe(/*force=*/false);
  resolve_rules(/*force=*/false, /*masks_moved=*/mask_limit_ != old_mask_limit);
  trim();
}

void MatchEngine::close_clause() {
  if (finished_ || clause_closed_) return;
  clause_closed_ = true;
  resolve_safe(/*force=*/true);
  resolve_rules(/*force=*/true, /*masks_moved=*/true);
  trim();
}

void MatchEngine::finish() {
  if (finished_) return;
  finished_ = true;
  resolve_safe(/*force=*/true);
  resolve_rules(/*force=*/true, /*masks_moved=*/true);
  trim();
}

// Why skipping the other retries is exact: whether a word matches a pattern element does not depend
// on where the match starts, and the search tries positions in order, so a search that stopped at
// the end of the text can only turn into a match through a new word that matches one of the
// pattern's elements (or a mask becoming final). Other new words can only make it fail, which is
// settled at the latest when the span is complete or the clause or text ends; a rule's failure
// delays nothing else, so a late one costs only a little memory.
bool MatchEngine::worth_retrying(const Pending& p, const PatternInfo& info, bool force,
                                 bool masks_moved) const {
  if (force || total_ >= p.start + info.span) return true;
  // Just started: only the first word is there, so a longer pattern can only ask for more.
  if (p.start + 1 == total_) return info.span == 1;
  if (info.has_prefixes) return true;
  if (p.waiting_for_mask && masks_moved) return true;
  return shares_a_word(info.words, slot(total_ - 1).ids);
}

void MatchEngine::resolve_safe(bool force) {
  std::size_t kept = 0;  // compacted in place, keeping the order by start
  Anchors anchors{};
  for (std::size_t k = 0; k < safe_pending_.size(); ++k) {
    Pending p = safe_pending_[k];
    // Safe phrases are retried on every word (only skipping their first): rules wait for them to
    // fail, so their failures must not be delayed.
    bool just_started = p.start + 1 == total_ && lexicon_->safe_info[p.pattern].span > 1;
    if (!force && just_started) {
      safe_pending_[kept++] = p;
      continue;
    }
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

void MatchEngine::resolve_rules(bool force, bool masks_moved) {
  std::size_t kept = 0;
  Anchors anchors{};
  for (std::size_t k = 0; k < rule_pending_.size(); ++k) {
    Pending p = rule_pending_[k];
    if (rule_hit_[p.pattern]) continue;
    if (!worth_retrying(p, lexicon_->rule_info[p.pattern], force, masks_moved)) {
      rule_pending_[kept++] = p;
      continue;
    }
    const Pattern& pattern = lexicon_->lexicon.rules[p.pattern].pattern;
    Outcome outcome = match(pattern, p.start, /*rule_mode=*/true, anchors);
    if (outcome == Outcome::kNeedMore || outcome == Outcome::kNeedMask) {
      p.waiting_for_mask = outcome == Outcome::kNeedMask;
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
  memo_span_ = pattern_span(pattern) + 1;  // (cheap: at most 12 words)
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
    if (i >= total_) {
      // Beyond the text: a later word can only extend this match if it is in the same clause.
      bool can_extend = !finished_ && !(clause_closed_ && word > 0);
      return can_extend ? Outcome::kNeedMore : Outcome::kFailed;
    }
    const Slot& s = slot(i);
    if (word > 0 && s.token.clause_start) break;  // never across clause punctuation
    if (!element_matches(element, s.token, s.ids)) continue;
    if (rule_mode && i >= mask_limit_) return Outcome::kNeedMask;
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
