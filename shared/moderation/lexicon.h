// The moderation lexicon: a line-oriented text format and its parsed form.
//
// Format (one statement per line; fields separated by spaces or tabs; '#' starts a comment line):
//   define NAME alt|alt|...             a word list, used in patterns as @NAME (NAME: A-Z 0-9 _)
//   negator WORD [WORD ...]             words that cancel a rule match (see below)
//   unnegate WORD [WORD ...]            words that stop a negator just before them from negating
//                                       ("can't wait", "can't stop")
//   threshold CATEGORY|* VALUE          flag a category when its score >= VALUE (default 0.5)
//   safe PATTERN                        words matched by a safe pattern cannot be matched by rules
//   CATEGORY[,CATEGORY...] WEIGHT PATTERN
//                                       a rule: when PATTERN matches, each CATEGORY gets WEIGHT
// PATTERN is a sequence of elements separated by spaces:
//   word        a normalised word: a-z, 0-9 (apostrophes are dropped: "don't" = "dont")
//   word*       any word starting with `word` (at least 3 characters before '*')
//   a|b|@NAME   any of the alternatives
//   ... / ...N  between two words: skip 0 to 3 (or 0 to N, N in 1..9) words
// A pattern has 1 to 12 words and never matches across clause punctuation (. , ; : ? ! or a line
// break). A rule match is cancelled when a negator word sits among the three words before it in the
// same clause or inside one of its gaps ("I would never hurt you"), unless the word right after the
// negator is an unnegate word ("I can't wait to ..."). A category's score is
// 1 - prod(1 - weight) over the distinct rules that matched; a refined category ("hate/threatening")
// lifts its parent's score ("hate") to at least its own.
// Errors: parse_lexicon returns INVALID_ARGUMENT "line N: problem" for the first bad line.
// Thread-safety: plain immutable data once parsed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "moderation/categories.h"

namespace chatscale::moderation_detail {

inline constexpr int kMaxPatternWords = 12;
inline constexpr int kDefaultGap = 3;
inline constexpr double kDefaultThreshold = 0.5;

struct WordElement {
  std::vector<std::string> exact;      // sorted, unique
  std::vector<std::string> prefixes;   // "kill" for "kill*"
  int gap_before = 0;                  // words that may be skipped before this one (0 for the first)
  std::vector<std::uint32_t> exact_ids;  // `exact` as vocabulary ids (filled by compile_lexicon)
};

struct Pattern {
  std::vector<WordElement> words;
  int line = 0;  // where it was defined, for explanations and errors
};

struct LexiconRule {
  Pattern pattern;
  std::vector<std::size_t> categories;  // indices into moderation_categories()
  double weight = 0;                    // in (0, 1]
};

struct Lexicon {
  std::vector<LexiconRule> rules;
  std::vector<Pattern> safe;
  std::vector<std::string> negators;    // sorted, unique
  std::vector<std::string> unnegators;  // sorted, unique
  std::array<double, kModerationCategoryCount> thresholds{};
};

Result<Lexicon> parse_lexicon(std::string_view text);

}  // namespace chatscale::moderation_detail
