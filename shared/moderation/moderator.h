// Rule-based content moderation: OpenAI's 13 categories (categories.h), scored from a lexicon of
// weighted phrase patterns (lexicon.h has the format) matched against normalised text, so simple
// evasions (case, accents, homoglyphs, zero-width characters, leetspeak, spaced-out letters) do
// not get through, while "safe" phrases ("kill the process") and negations keep benign uses clear.
//
//   const Moderator& m = Moderator::builtin();        // the lexicon compiled into the binary
//   ModerationResult r = m.classify(user_message);     // whole text
//   StreamModerator s(m);                              // a growing model output
//   for (delta : stream) if (s.append(delta).flagged) stop();
//   s.finish();                                        // end of stream: settles the last words
//
// Ownership: a Moderator shares its compiled lexicon (cheap to copy); a StreamModerator keeps the
// lexicon alive on its own. Thread-safety: a Moderator is immutable and may be used from any number
// of threads at once; a StreamModerator belongs to one stream (one thread at a time).
// Failures: building a Moderator from a bad lexicon returns INVALID_ARGUMENT "line N: problem";
// classifying never fails (any bytes are accepted; invalid UTF-8 counts as separators).
// Limits: a phrase lexicon catches explicit wording and its disguises, not paraphrase. On sentences
// written after the built-in lexicon was frozen it measured precision 0.94 and recall 0.37
// (tests/shared/moderation/data/labelled.tsv, split "heldout"); treat it as a cheap first line, not
// as a substitute for a learned classifier.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "moderation/categories.h"
#include "moderation/match_engine.h"
#include "moderation/text_normalizer.h"

namespace chatscale {

struct ModerationResult {
  bool flagged = false;
  std::vector<std::string> categories;                    // flagged wire names, taxonomy order
  std::array<double, kModerationCategoryCount> scores{};  // per category, in [0, 1]

  friend bool operator==(const ModerationResult&, const ModerationResult&) = default;
};

class Moderator {
 public:
  // Parses a lexicon (format in lexicon.h).
  static Result<Moderator> from_lexicon(std::string_view text);
  // Reads and parses a lexicon file. NOT_FOUND if it cannot be read.
  static Result<Moderator> from_file(const std::string& path);
  // The built-in English lexicon (shared/moderation/data/lexicon.txt), parsed once.
  static const Moderator& builtin();

  ModerationResult classify(std::string_view text) const;
  // The lexicon line numbers of the rules that matched `text`, for explanations and tuning.
  std::vector<int> matched_rule_lines(std::string_view text) const;
  // Per-category flag thresholds.
  const std::array<double, kModerationCategoryCount>& thresholds() const;

 private:
  friend class StreamModerator;
  explicit Moderator(std::shared_ptr<const moderation_detail::CompiledLexicon> lexicon);
  ModerationResult result_from(const moderation_detail::MatchEngine& engine) const;

  std::shared_ptr<const moderation_detail::CompiledLexicon> lexicon_;
};

// Moderates a text that grows by deltas (e.g. streamed model tokens). Each append only normalises
// the new bytes and retries the few pattern starts still open, so the total cost is linear in the
// text. A phrase is reported as soon as it is complete and no safe phrase can still cover it (its
// last word is complete once the next character arrives). After finish(), the result equals
// Moderator::classify() of the concatenated deltas, however the text was split.
class StreamModerator {
 public:
  explicit StreamModerator(const Moderator& moderator);

  // Adds text; returns the result so far. Ignored after finish().
  const ModerationResult& append(std::string_view delta);
  // Ends the stream: settles the last word and any pending phrase.
  const ModerationResult& finish();
  const ModerationResult& result() const { return result_; }
  bool finished() const { return finished_; }
  // Diagnostics: words seen so far, and words still held for pending matches (stays small however
  // long the stream grows, which is what keeps the cost per delta bounded).
  std::size_t words_seen() const { return engine_.tokens_seen(); }
  std::size_t words_retained() const { return engine_.tokens_retained(); }

 private:
  void refresh();

  Moderator moderator_;
  moderation_detail::TextNormalizer normalizer_;
  moderation_detail::MatchEngine engine_;
  std::size_t hits_seen_ = 0;
  ModerationResult result_;
  bool finished_ = false;
};

// The text of the built-in lexicon, e.g. to print or to extend with an operator's own rules.
std::string_view builtin_moderation_lexicon();

}  // namespace chatscale
