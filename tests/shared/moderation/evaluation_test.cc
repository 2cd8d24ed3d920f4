#include "moderation/evaluation.h"

#include <gtest/gtest.h>

#include <iostream>

#include "test_data.h"

namespace chatscale {
namespace {

using moderation_test::labelled_set;

void print_mistakes(const ModerationEval& eval) {
  for (const std::string& line : eval.mistakes) std::cout << "  " << line << "\n";
}

TEST(ModerationEvaluation, LabelledSetIsLargeAndBalanced) {
  Result<ModerationEval> all = evaluate(Moderator::builtin(), labelled_set());
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_GE(all->sentences, 240u);
  std::size_t negatives = all->overall.true_negatives + all->overall.false_positives;
  EXPECT_GE(negatives, 80u);
  for (std::size_t c = 0; c < kModerationCategoryCount; ++c) {
    const DetectionCounts& counts = all->categories[c];
    EXPECT_GE(counts.true_positives + counts.false_negatives, 6u) << moderation_categories()[c];
  }
}

// The dev half was used to write and tune the lexicon: these figures guard against regressions,
// they are not evidence of how well the classifier generalises.
TEST(ModerationEvaluation, DevFigures) {
  Result<ModerationEval> dev = evaluate(Moderator::builtin(), labelled_set(), "dev");
  ASSERT_TRUE(dev.is_ok()) << dev.status().to_string();
  std::cout << format_eval_table(*dev, "dev half");
  print_mistakes(*dev);
  EXPECT_GE(dev->sentences, 500u);
  EXPECT_GE(dev->overall.precision(), 0.98);  // measured 0.997
  EXPECT_GE(dev->overall.recall(), 0.95);     // measured 0.975
}

// The held-out half was written after the lexicon was frozen and never tuned on. A phrase lexicon
// generalises poorly to freshly worded sentences: measured precision 0.941 and recall 0.368 here
// (two earlier held-out rounds, since folded into dev, gave recall 0.414 and 0.448). The brief's
// targets (precision >= 0.9, recall >= 0.85) are met for precision only; these bounds are the
// measured figures minus a small margin.
TEST(ModerationEvaluation, HeldOutFigures) {
  Result<ModerationEval> held = evaluate(Moderator::builtin(), labelled_set(), "heldout");
  ASSERT_TRUE(held.is_ok()) << held.status().to_string();
  std::cout << format_eval_table(*held, "held-out half");
  print_mistakes(*held);
  EXPECT_GE(held->sentences, 120u);
  EXPECT_GE(held->overall.precision(), 0.9);
  EXPECT_GE(held->overall.recall(), 0.33);
}

}  // namespace
}  // namespace chatscale

namespace chatscale {
namespace {

Moderator tiny() { return *Moderator::from_lexicon("violence 0.9 kill\nhate 0.9 vermin\n"); }

TEST(ModerationEvaluationFunction, CountsOverallAndPerCategory) {
  const std::string tsv =
      "# comment\n"
      "violence\ta\tkill\n"             // true positive
      "hate\ta\tthey are vermin\n"      // true positive
      "hate\ta\tthey are pests\n"       // false negative
      "none\ta\tkill time\n"            // false positive (the tiny lexicon has no safe phrases)
      "none\ta\thello\n"                // true negative
      "violence,hate\tb\tkill vermin\n"  // other split
      "\n";
  Result<ModerationEval> a = evaluate(tiny(), tsv, "a");
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ(a->sentences, 5u);
  EXPECT_EQ(a->overall.true_positives, 2u);
  EXPECT_EQ(a->overall.false_negatives, 1u);
  EXPECT_EQ(a->overall.false_positives, 1u);
  EXPECT_EQ(a->overall.true_negatives, 1u);
  EXPECT_DOUBLE_EQ(a->overall.precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(a->overall.recall(), 2.0 / 3.0);
  const DetectionCounts& hate = a->categories[*moderation_category_index("hate")];
  EXPECT_EQ(hate.true_positives, 1u);
  EXPECT_EQ(hate.false_negatives, 1u);
  EXPECT_EQ(a->mistakes.size(), 2u);
  EXPECT_EQ(a->mistakes[0], "line 4: expected hate, got none: they are pests");
  Result<ModerationEval> all = evaluate(tiny(), tsv);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->sentences, 6u);
}

TEST(ModerationEvaluationFunction, RefinedLabelsImplyTheirParent) {
  Moderator m = *Moderator::from_lexicon("hate/threatening 0.9 exterminate\n");
  Result<ModerationEval> e = evaluate(m, "hate/threatening\tx\texterminate them\n");
  ASSERT_TRUE(e.is_ok());
  EXPECT_TRUE(e->mistakes.empty());
  EXPECT_EQ(e->categories[*moderation_category_index("hate")].true_positives, 1u);
}

TEST(ModerationEvaluationFunction, EmptyDenominatorsCountAsPerfect) {
  DetectionCounts none;
  EXPECT_EQ(none.precision(), 1.0);
  EXPECT_EQ(none.recall(), 1.0);
}

TEST(ModerationEvaluationFunction, MalformedLinesAreReported) {
  EXPECT_EQ(evaluate(tiny(), "violence\tkill\n").status().message(),
            "line 1: expected LABELS<TAB>SPLIT<TAB>SENTENCE");
  EXPECT_EQ(evaluate(tiny(), "none\ta\tok\nviolent\ta\tkill\n").status().message(),
            "line 2: unknown category 'violent'");
  EXPECT_EQ(evaluate(tiny(), "none\ta\t\n").status().message(), "line 1: empty sentence");
  EXPECT_EQ(evaluate(tiny(), "none\t\tx\n").status().message(), "line 1: empty split");
}

TEST(ModerationEvaluationFunction, FormatsATable) {
  Result<ModerationEval> e = evaluate(tiny(), "violence\ta\tkill\nnone\ta\thello\n");
  ASSERT_TRUE(e.is_ok());
  std::string table = format_eval_table(*e, "tiny");
  EXPECT_NE(table.find("tiny (2 sentences)"), std::string::npos);
  EXPECT_NE(table.find("flagged (any category)   100.0% 100.0%     1     0     0"), std::string::npos);
  for (std::string_view name : moderation_categories()) {
    EXPECT_NE(table.find(std::string(name) + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace chatscale
