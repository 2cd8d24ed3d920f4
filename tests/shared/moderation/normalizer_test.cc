#include "moderation/text_normalizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace chatscale::moderation_detail {
namespace {

std::vector<Token> tokens_of(std::string_view text) {
  TextNormalizer normalizer;
  std::vector<Token> out = normalizer.feed(text);
  for (Token& t : normalizer.finish()) out.push_back(std::move(t));
  return out;
}

// The first spelling of each token, space-separated.
std::string words(std::string_view text) {
  std::string out;
  for (const Token& t : tokens_of(text)) out += (out.empty() ? "" : " ") + t.spellings[0];
  return out;
}

bool token_can_read(const Token& token, const std::string& word) {
  return std::find(token.spellings.begin(), token.spellings.end(), word) != token.spellings.end();
}

// True when some token of `text` has `word` among its spellings.
bool reads(std::string_view text, const std::string& word) {
  auto all = tokens_of(text);
  return std::any_of(all.begin(), all.end(), [&](const Token& t) { return token_can_read(t, word); });
}

TEST(TextNormalizer, CaseFoldingAndApostrophes) {
  EXPECT_EQ(words("Hello WORLD, I'm fine"), "hello world im fine");
  EXPECT_EQ(words("don\xE2\x80\x99t stop"), "dont stop");  // U+2019 apostrophe
  EXPECT_EQ(words("'quoted' words"), "quoted words");
}

TEST(TextNormalizer, SpacedOutLettersJoinIntoOneWord) {
  EXPECT_EQ(words("k i l l"), "kill");
  EXPECT_EQ(words("k.i.l.l"), "kill");
  EXPECT_EQ(words("k-i-l-l"), "kill");
  EXPECT_EQ(words("k_i_l_l"), "kill");
  EXPECT_EQ(words("I will k i l l you"), "i will kill you");
  EXPECT_EQ(words("p.i.p.e b.o.m.b"), "pipe bomb");
  EXPECT_EQ(words("make a b-o-m-b"), "make a bomb");
  // A line break or a long gap ends a run.
  EXPECT_EQ(words("k i\nl l"), "k i l l");
  EXPECT_EQ(words("k i     l l"), "k i l l");
}

TEST(TextNormalizer, OrdinaryWordsAreNeverMerged) {
  EXPECT_EQ(words("I am a big cat"), "i am a big cat");
  EXPECT_EQ(words("a b"), "a b");  // two single letters stay apart
  EXPECT_EQ(words("it is ok"), "it is ok");
  EXPECT_EQ(words("self-harm"), "self harm");
}

TEST(TextNormalizer, JoinedRunAlsoReadsWithoutALoneLeadingOrTrailingA) {
  // "I am a k i l l e r": the run absorbs the word "a", so the token also reads "killer".
  auto all = tokens_of("I am a k i l l e r");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].spellings[0], "akiller");
  EXPECT_TRUE(token_can_read(all[2], "killer"));
}

TEST(TextNormalizer, Leetspeak) {
  EXPECT_TRUE(reads("k1ll", "kill"));     // 1 -> i
  EXPECT_TRUE(reads("ki11", "kill"));     // 1 -> l
  EXPECT_TRUE(reads("d3ath", "death"));   // 3 -> e
  EXPECT_TRUE(reads("h4te", "hate"));     // 4 -> a
  EXPECT_TRUE(reads("sh00t", "shoot"));   // 0 -> o
  EXPECT_TRUE(reads("a55", "ass"));       // 5 -> s
  EXPECT_TRUE(reads("7hreat", "threat"));  // 7 -> t
  EXPECT_TRUE(reads("r@pe", "rape"));     // @ -> a
  EXPECT_TRUE(reads("$lut", "slut"));     // $ -> s
  EXPECT_TRUE(reads("k!ll", "kill"));     // ! between letters -> i
  EXPECT_TRUE(reads("k|ll", "kill"));     // | -> i or l
  EXPECT_TRUE(reads("k 1 l l", "kill"));  // spacing and leet together
  // Numbers stay numbers; the written form is always kept.
  EXPECT_EQ(words("2024 and 1337"), "2024 and 1337");
  EXPECT_TRUE(reads("ak47", "ak47"));
  // '!' at the end of a word is punctuation.
  EXPECT_EQ(words("stop! now"), "stop now");
  EXPECT_TRUE(tokens_of("stop! now")[1].clause_start);
}

TEST(TextNormalizer, DiacriticsFoldToBaseLetters) {
  EXPECT_EQ(words("caf\xC3\xA9 na\xC3\xAFve"), "cafe naive");                 // é ï
  EXPECT_EQ(words("k\xC3\xADll \xC3\x9F"), "kill ss");                        // í ß
  EXPECT_EQ(words("\xC5\x81\xC3\xB3" "d\xC5\xBA"), "lodz");                      // Ł ó ź
  EXPECT_EQ(words("ki\xCC\x81ll"), "kill");  // i + combining acute accent (decomposed form)
}

TEST(TextNormalizer, HomoglyphsAndFullwidthFoldToAscii) {
  // Cyrillic а е о р с х (U+0430 0435 043E 0440 0441 0445).
  EXPECT_EQ(words("\xD0\xB0\xD0\xB5\xD0\xBE\xD1\x80\xD1\x81\xD1\x85"), "aeopcx");
  EXPECT_EQ(words("k\xD1\x96ll"), "kill");  // Cyrillic і
  EXPECT_EQ(words("\xCE\x9A\xCE\x99LL"), "kill");  // Greek capital kappa and iota
  EXPECT_EQ(words("\xEF\xBC\xAB\xEF\xBC\xA9\xEF\xBC\xAC\xEF\xBC\xAC"), "kill");  // fullwidth KILL
  EXPECT_EQ(words("\xF0\x9D\x90\xA4\xF0\x9D\x90\xA2\xF0\x9D\x90\xA5\xF0\x9D\x90\xA5"), "kill");  // math bold
}

TEST(TextNormalizer, ZeroWidthCharactersAreRemoved) {
  EXPECT_EQ(words("k\xE2\x80\x8Bi\xE2\x80\x8Cl\xE2\x80\x8Dl"), "kill");  // ZWSP ZWNJ ZWJ
  EXPECT_EQ(words("ki\xEF\xBB\xBFll"), "kill");                          // BOM
  EXPECT_EQ(words("ki\xC2\xADll"), "kill");                              // soft hyphen
}

TEST(TextNormalizer, InvalidUtf8IsASeparator) {
  EXPECT_EQ(words("ki\xFFll"), "ki ll");
  EXPECT_EQ(words("ab\xC3"), "ab");           // truncated sequence at the end
  EXPECT_EQ(words("ab\xE2\x82z"), "ab z");     // cut short by an ASCII byte
  EXPECT_EQ(words("\xC0\xAF"), "");            // overlong encoding
  EXPECT_EQ(words("a\xED\xA0\x80z"), "a z");   // UTF-16 surrogate
}

TEST(TextNormalizer, ClauseAndSentenceStarts) {
  auto all = tokens_of("one two, three. four\nfive");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_TRUE(all[0].sentence_start);
  EXPECT_FALSE(all[1].clause_start);
  EXPECT_TRUE(all[2].clause_start);
  EXPECT_FALSE(all[2].sentence_start);
  EXPECT_TRUE(all[3].sentence_start);
  EXPECT_TRUE(all[4].sentence_start);
}

TEST(TextNormalizer, LongWordsAreTruncated) {
  std::string word(500, 'x');
  auto all = tokens_of(word);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].truncated);
  EXPECT_EQ(all[0].spellings[0].size(), kMaxTokenChars);
}

TEST(TextNormalizer, TokensDoNotDependOnHowTheInputIsCut) {
  const std::string text =
      "I w i l l k.i.l.l y0u, caf\xC3\xA9 \xD0\xB0" "b k\xE2\x80\x8B" "ill don't! p.i.p.e b.o.m.b \xFF end";
  auto whole = tokens_of(text);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    TextNormalizer normalizer;
    std::vector<Token> parts = normalizer.feed(text.substr(0, cut));
    for (Token& t : normalizer.feed(text.substr(cut))) parts.push_back(std::move(t));
    for (Token& t : normalizer.finish()) parts.push_back(std::move(t));
    ASSERT_EQ(parts.size(), whole.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      EXPECT_EQ(parts[i].spellings, whole[i].spellings) << "cut at " << cut;
      EXPECT_EQ(parts[i].clause_start, whole[i].clause_start) << "cut at " << cut;
    }
  }
}

TEST(TokenSpellings, LeetVariantsAreBoundedAndDeduplicated) {
  auto s = token_spellings("1111111");  // no letters: kept as written
  EXPECT_EQ(s, std::vector<std::string>{"1111111"});
  s = token_spellings("k1111l");  // many ambiguous characters: all-i and all-l only
  EXPECT_LE(s.size(), kMaxSpellings);
  EXPECT_NE(std::find(s.begin(), s.end(), "kiiiil"), s.end());
  EXPECT_NE(std::find(s.begin(), s.end(), "klllll"), s.end());
  s = token_spellings("plain");
  EXPECT_EQ(s, std::vector<std::string>{"plain"});
}

}  // namespace
}  // namespace chatscale::moderation_detail
