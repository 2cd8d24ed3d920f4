#include "moderation/lexicon.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "moderation/moderator.h"

namespace chatscale {
namespace {

using moderation_detail::parse_lexicon;

std::string parse_error(std::string_view text) {
  auto parsed = parse_lexicon(text);
  if (parsed.is_ok()) return "ok";
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  return parsed.status().message();
}

double score(const ModerationResult& r, std::string_view category) {
  return r.scores[*moderation_category_index(category)];
}

Moderator make(std::string_view lexicon) {
  Result<Moderator> m = Moderator::from_lexicon(lexicon);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return std::move(m).value();
}

TEST(LexiconParse, ErrorsNameTheLine) {
  EXPECT_EQ(parse_error("# comment\n\nviolence 0.9 kill him\nviolnce 0.9 stab him\n"),
            "line 4: unknown category 'violnce'");
  EXPECT_EQ(parse_error("violence 1.5 kill him"), "line 1: weight '1.5' must be a number in (0, 1]");
  EXPECT_EQ(parse_error("violence 0 kill him"), "line 1: weight '0' must be a number in (0, 1]");
  EXPECT_EQ(parse_error("violence x kill him"), "line 1: weight 'x' must be a number in (0, 1]");
  EXPECT_EQ(parse_error("violence 0.9"), "line 1: expected: CATEGORY WEIGHT PATTERN");
  EXPECT_EQ(parse_error("violence 0.9 k!ll"),
            "line 1: bad character '!' in word 'k!ll' (words are a-z, 0-9)");
  EXPECT_EQ(parse_error("violence 0.9 ki*"), "line 1: prefix 'ki*' needs at least 3 characters before '*'");
  EXPECT_EQ(parse_error("violence 0.9 ... kill"), "line 1: a gap cannot start a pattern");
  EXPECT_EQ(parse_error("violence 0.9 kill ..."), "line 1: a gap cannot end a pattern");
  EXPECT_EQ(parse_error("violence 0.9 kill ... ...2 him"), "line 1: two gaps in a row");
  EXPECT_EQ(parse_error("violence 0.9 kill ...0 him"), "line 1: bad gap '...0' (use ... or ...N with N in 1..9)");
  EXPECT_EQ(parse_error("violence 0.9 kill|| him"), "line 1: empty alternative in 'kill||'");
  EXPECT_EQ(parse_error("violence 0.9 kill @PEOPLE"), "line 1: unknown list '@PEOPLE'");
  EXPECT_EQ(parse_error("violence 0.9 a b c d e f g h i j k l m"), "line 1: pattern has more than 12 words");
  EXPECT_EQ(parse_error("violence,hat 0.9 kill"), "line 1: unknown category 'hat'");
  EXPECT_EQ(parse_error("define lower a|b"), "line 1: list name 'lower' must be A-Z, 0-9 or _");
  EXPECT_EQ(parse_error("define X a\ndefine X b"), "line 2: list @X defined twice");
  EXPECT_EQ(parse_error("define X"), "line 1: expected: define NAME word|word|...");
  EXPECT_EQ(parse_error("threshold violence 2"), "line 1: threshold '2' must be a number in (0, 1]");
  EXPECT_EQ(parse_error("threshold nope 0.5"), "line 1: unknown category 'nope'");
  EXPECT_EQ(parse_error("threshold violence"), "line 1: expected: threshold CATEGORY VALUE");
  EXPECT_EQ(parse_error("negator"), "line 1: expected: negator WORD [WORD ...]");
  EXPECT_EQ(parse_error("safe"), "line 1: empty pattern");
  EXPECT_EQ(parse_error("violence 0.9 " + std::string(60, 'a')),
            "line 1: word '" + std::string(60, 'a') + "' is too long");
}

TEST(LexiconParse, ListsPrefixesThresholdsAndNegators) {
  auto parsed = parse_lexicon(
      "define PEOPLE him|her\n"
      "define MORE @PEOPLE|them\n"
      "threshold * 0.7\n"
      "threshold hate 0.4\n"
      "negator not Don't\n"
      "unnegate wait\n"
      "violence,harassment 0.8 kill* ...2 @MORE  # trailing comment\n"
      "safe kill time\n");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  const auto& lex = *parsed;
  ASSERT_EQ(lex.rules.size(), 1u);
  const auto& rule = lex.rules[0];
  EXPECT_EQ(rule.pattern.line, 7);
  EXPECT_DOUBLE_EQ(rule.weight, 0.8);
  EXPECT_EQ(rule.categories.size(), 2u);
  ASSERT_EQ(rule.pattern.words.size(), 2u);
  EXPECT_EQ(rule.pattern.words[0].prefixes, std::vector<std::string>{"kill"});
  EXPECT_EQ(rule.pattern.words[1].gap_before, 2);
  EXPECT_EQ(rule.pattern.words[1].exact, (std::vector<std::string>{"her", "him", "them"}));
  EXPECT_EQ(lex.safe.size(), 1u);
  EXPECT_EQ(lex.negators, (std::vector<std::string>{"dont", "not"}));
  EXPECT_EQ(lex.unnegators, std::vector<std::string>{"wait"});
  EXPECT_DOUBLE_EQ(lex.thresholds[*moderation_category_index("hate")], 0.4);
  EXPECT_DOUBLE_EQ(lex.thresholds[*moderation_category_index("violence")], 0.7);
}

TEST(LexiconParse, BuiltinLexiconParses) {
  auto parsed = parse_lexicon(builtin_moderation_lexicon());
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_GT(parsed->rules.size(), 300u);
  EXPECT_GT(parsed->safe.size(), 50u);
  // Every category has rules.
  std::vector<int> per_category(kModerationCategoryCount, 0);
  for (const auto& rule : parsed->rules) {
    for (std::size_t c : rule.categories) ++per_category[c];
  }
  for (std::size_t c = 0; c < kModerationCategoryCount; ++c) {
    EXPECT_GE(per_category[c], 5) << moderation_categories()[c];
  }
}

TEST(LexiconSemantics, WeightsCombineAsNoisyOrOncePerRule) {
  Moderator m = make("hate 0.3 alpha\nhate 0.3 beta\n");
  EXPECT_NEAR(score(m.classify("alpha"), "hate"), 0.3, 1e-9);
  EXPECT_NEAR(score(m.classify("alpha alpha alpha"), "hate"), 0.3, 1e-9);  // one rule counts once
  EXPECT_NEAR(score(m.classify("alpha beta"), "hate"), 1 - 0.7 * 0.7, 1e-9);
  EXPECT_FALSE(m.classify("alpha").flagged);
  EXPECT_TRUE(m.classify("alpha beta").flagged);
  EXPECT_EQ(m.classify("alpha beta").categories, std::vector<std::string>{"hate"});
}

TEST(LexiconSemantics, ThresholdsArePerCategory) {
  Moderator m = make("threshold hate 0.2\nhate,violence 0.3 alpha\n");
  ModerationResult r = m.classify("alpha");
  EXPECT_EQ(r.categories, std::vector<std::string>{"hate"});
  EXPECT_DOUBLE_EQ(m.thresholds()[*moderation_category_index("violence")], 0.5);
}

TEST(LexiconSemantics, RefinedCategoryLiftsItsParent) {
  Moderator m = make("hate/threatening 0.9 alpha\n");
  ModerationResult r = m.classify("alpha");
  EXPECT_NEAR(score(r, "hate"), 0.9, 1e-9);
  EXPECT_EQ(r.categories, (std::vector<std::string>{"hate", "hate/threatening"}));
}

TEST(LexiconSemantics, GapsPrefixesAndAlternatives) {
  Moderator m = make("violence 0.9 kill* ...2 him|her\n");
  EXPECT_TRUE(m.classify("kill him").flagged);
  EXPECT_TRUE(m.classify("killing that old her").flagged);
  EXPECT_FALSE(m.classify("kill that old man him").flagged);  // three words in the gap
  EXPECT_FALSE(m.classify("skill him").flagged);               // prefixes anchor at the start
}

TEST(LexiconSemantics, PatternsDoNotCrossClausePunctuation) {
  Moderator m = make("violence 0.9 kill ...2 him\n");
  EXPECT_TRUE(m.classify("kill the him").flagged);
  EXPECT_FALSE(m.classify("kill. him").flagged);
  EXPECT_FALSE(m.classify("kill the, him").flagged);
  EXPECT_FALSE(m.classify("kill\nhim").flagged);
}

TEST(LexiconSemantics, SafePhrasesDefeatRules) {
  Moderator m = make("violence 0.9 kill\nsafe kill ...2 process|time\n");
  EXPECT_TRUE(m.classify("kill").flagged);
  EXPECT_FALSE(m.classify("kill the process").flagged);
  EXPECT_FALSE(m.classify("we kill time").flagged);
  // A safe phrase only shields its own words: another "kill" still counts.
  EXPECT_TRUE(m.classify("kill the process and kill").flagged);
}

TEST(LexiconSemantics, NegationBeforeAndInsideTheMatch) {
  Moderator m = make("negator not never dont\nunnegate wait\nviolence 0.9 hurt ...2 you\n");
  EXPECT_TRUE(m.classify("I will hurt you").flagged);
  EXPECT_FALSE(m.classify("I will not hurt you").flagged);
  EXPECT_FALSE(m.classify("I dont want to hurt you").flagged);  // within three words before
  EXPECT_FALSE(m.classify("hurt never you").flagged);           // inside a gap
  EXPECT_TRUE(m.classify("not now, I will hurt you").flagged);  // another clause
  EXPECT_TRUE(m.classify("not sure why but hurt you").flagged);  // more than three words before
  EXPECT_TRUE(m.classify("I dont wait to hurt you").flagged);     // "wait" cancels the negator
}

TEST(LexiconSemantics, FromFileReadsAndReportsErrorsWithThePath) {
  std::string path = ::testing::TempDir() + "/moderation_lexicon_test.txt";
  {
    std::ofstream out(path);
    out << "violence 0.9 kill\nnonsense 0.9 x\n";
  }
  Result<Moderator> bad = Moderator::from_file(path);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), path + ": line 2: unknown category 'nonsense'");
  {
    std::ofstream out(path);
    out << "violence 0.9 kill\n";
  }
  Result<Moderator> good = Moderator::from_file(path);
  ASSERT_TRUE(good.is_ok());
  EXPECT_TRUE(good->classify("kill").flagged);
  std::remove(path.c_str());
  EXPECT_EQ(Moderator::from_file(path).status().code(), StatusCode::kNotFound);
}

TEST(LexiconSemantics, EmptyLexiconFlagsNothing) {
  Moderator m = make("");
  ModerationResult r = m.classify("I will kill you");
  EXPECT_FALSE(r.flagged);
  for (double s : r.scores) EXPECT_EQ(s, 0.0);
}

}  // namespace
}  // namespace chatscale
