// Measures a Moderator against a labelled set of sentences.
//
// Labelled set format (TSV, one sentence per line; blank lines and lines starting with '#' are
// skipped):   LABELS <TAB> SPLIT <TAB> SENTENCE
//   LABELS    "none", or comma-separated category wire names ("harassment/threatening,violence");
//             a refined category implies its parent ("hate/threatening" also counts as "hate").
//   SPLIT     a free name for the part of the set ("dev", "heldout").
// Overall figures count a sentence as positive when it has any label, predicted positive when the
// moderator flags it. Per-category figures compare label sets. Precision is 1 when nothing was
// predicted positive and recall is 1 when nothing was positive (no evidence against either).
// Errors: INVALID_ARGUMENT "line N: problem" for a malformed line.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "moderation/categories.h"
#include "moderation/moderator.h"

namespace chatscale {

struct DetectionCounts {
  std::size_t true_positives = 0;
  std::size_t false_positives = 0;
  std::size_t false_negatives = 0;
  std::size_t true_negatives = 0;

  double precision() const;
  double recall() const;
};

struct ModerationEval {
  std::size_t sentences = 0;
  DetectionCounts overall;  // flagged vs not flagged
  std::array<DetectionCounts, kModerationCategoryCount> categories;
  // One line per wrong sentence: "line N: expected X, got Y: SENTENCE" (X, Y: labels or "none").
  std::vector<std::string> mistakes;
};

// Evaluates the sentences of `tsv` whose split is `split` (all sentences when `split` is empty).
Result<ModerationEval> evaluate(const Moderator& moderator, std::string_view tsv,
                                std::string_view split = {});

// A small fixed-width text table: overall precision/recall, then one row per category.
std::string format_eval_table(const ModerationEval& eval, std::string_view title);

}  // namespace chatscale
