#include "moderation/moderator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace chatscale {
namespace {

const Moderator& builtin() { return Moderator::builtin(); }

bool has(const ModerationResult& r, std::string_view category) {
  return std::find(r.categories.begin(), r.categories.end(), category) != r.categories.end();
}

struct Case {
  std::string_view category;
  std::string_view text;
};

// Positives for every category (written for these unit tests; the evaluation set is separate).
TEST(Moderator, FlagsEveryCategory) {
  const Case cases[] = {
      {"harassment", "you are a worthless idiot"},
      {"harassment", "Nobody likes you."},
      {"harassment/threatening", "I will kill you"},
      {"harassment/threatening", "I know where you live."},
      {"hate", "Immigrants are vermin"},
      {"hate", "Go back to your country."},
      {"hate/threatening", "Kill all the Jews"},
      {"hate/threatening", "Muslims should be exterminated"},
      {"illicit", "how do I cook meth"},
      {"illicit", "help me launder money"},
      {"illicit/violent", "how to build a pipe bomb"},
      {"illicit/violent", "where can I buy a ghost gun"},
      {"self-harm", "I keep cutting myself"},
      {"self-harm/intent", "I want to kill myself"},
      {"self-harm/intent", "I don't want to live anymore"},
      {"self-harm/instructions", "what is the most painless way to kill myself"},
      {"sexual", "send me nudes"},
      {"sexual", "let's have sex"},
      {"sexual/minors", "nude pictures of a 12 year old"},
      {"violence", "I am going to stab my neighbor"},
      {"violence", "let's shoot up the school"},
      {"violence/graphic", "his intestines spilled out on the floor"},
      {"violence/graphic", "the body was dismembered"},
  };
  for (const Case& c : cases) {
    ModerationResult r = builtin().classify(c.text);
    EXPECT_TRUE(r.flagged) << c.text;
    EXPECT_TRUE(has(r, c.category)) << c.text << " -> expected " << c.category;
  }
}

TEST(Moderator, RefinedCategoriesAlsoFlagTheirParent) {
  ModerationResult r = builtin().classify("I want to kill myself");
  EXPECT_TRUE(has(r, "self-harm/intent"));
  EXPECT_TRUE(has(r, "self-harm"));
  r = builtin().classify("nude pictures of a 12 year old");
  EXPECT_TRUE(has(r, "sexual"));
}

TEST(Moderator, ResultIsConsistent) {
  for (std::string_view text : {"I will kill you", "hello there", "send me nudes you idiot", ""}) {
    ModerationResult r = builtin().classify(text);
    EXPECT_EQ(r.flagged, !r.categories.empty());
    for (std::size_t c = 0; c < kModerationCategoryCount; ++c) {
      EXPECT_GE(r.scores[c], 0.0);
      EXPECT_LE(r.scores[c], 1.0);
      bool listed = has(r, moderation_categories()[c]);
      EXPECT_EQ(listed, r.scores[c] > 0 && r.scores[c] >= builtin().thresholds()[c]) << text;
    }
    // Categories come in taxonomy order.
    std::vector<std::size_t> order;
    for (const auto& name : r.categories) order.push_back(*moderation_category_index(name));
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  }
}

// Each evasion technique on its own, against the plain "I will kill you".
TEST(Moderator, DefeatsEvasion) {
  const std::string_view evasions[] = {
      "I WILL KILL YOU",                                  // case
      "I will k i l l you",                               // spacing
      "I will k.i.l.l you",                               // punctuation inside the word
      "I will k-i-l-l you",                               // hyphens inside the word
      "I will k1ll y0u",                                  // leet 1 and 0
      "I will ki11 you",                                  // leet 1 as l
      "I will k!ll you",                                  // '!' as i
      "I w1ll k1ll y0u",                                  // several leet words
      "I will k\xC3\xAD" "ll you",                        // diacritic (í)
      "I will k\xD1\x96ll y\xD0\xBEu",                    // Cyrillic і and о
      "I will \xEF\xBD\x8B\xEF\xBD\x89\xEF\xBD\x8C\xEF\xBD\x8C you",  // fullwidth
      "I will k\xE2\x80\x8Bi\xE2\x80\x8Bll you",          // zero-width spaces
  };
  for (std::string_view text : evasions) {
    ModerationResult r = builtin().classify(text);
    EXPECT_TRUE(has(r, "harassment/threatening")) << text;
  }
  EXPECT_TRUE(builtin().classify("h0w t0 m4ke 4 b0mb").flagged);
  EXPECT_TRUE(builtin().classify("s3nd me n\xC3\xBC" "des").flagged);
  EXPECT_TRUE(builtin().classify("\xD0\x86mmigrants are \xD1\x80\xD0\xB0rasites").flagged);  // Cyrillic
}

// Benign uses of violent-sounding words.
TEST(Moderator, DoesNotFlagHardNegatives) {
  const std::string_view negatives[] = {
      "kill the process",
      "How do I kill the process that is using port 8080?",
      "kill -9 the stuck job and restart the server",
      "shoot a photo",
      "We will shoot a photo of the team tomorrow.",
      "this movie slays",
      "I'm dying to see it",
      "the bomb of a party",
      "That party was the bomb.",
      "execute the script",
      "Please execute the query again.",
      "killer app",
      "my heart attack of a week",
      "She absolutely killed it on stage.",
      "I could murder a burger right now.",
      "Shoot me an email when you can.",
      "I bombed the interview.",
      "She gave me a bath bomb.",
      "We are killing time at the airport.",
      "Beat the eggs and sugar together.",
      "Break a leg tonight!",
      "Our suicide prevention hotline is free.",
      "Sex education matters.",
      "My 10 year old son loves football.",
      "I'm not going to hurt you.",
      "Don't kill yourself over this, it's only a test.",
      "I love you to death.",
      "The detective solved the murder mystery.",
      "Kill the child process first.",
      "He was shot down over France in the war.",
      "Muslims celebrate Eid.",
      "Black cats are lucky in some countries.",
      "Women won the vote in 1918.",
      "How do I recognise a phishing email?",
      "The photographer shot the wedding.",
      "Cut the onions finely.",
  };
  for (std::string_view text : negatives) {
    ModerationResult r = builtin().classify(text);
    EXPECT_FALSE(r.flagged) << text << " -> " << (r.categories.empty() ? "" : r.categories[0]);
  }
}

TEST(Moderator, ExplainsMatchesByLexiconLine) {
  std::vector<int> lines = builtin().matched_rule_lines("I will kill you");
  EXPECT_FALSE(lines.empty());
  EXPECT_TRUE(builtin().matched_rule_lines("kill the process").empty());
}

int count_mismatches(const std::vector<std::string>& texts, const std::vector<ModerationResult>& expected) {
  int mismatches = 0;
  for (int round = 0; round < 50; ++round) {
    for (std::size_t i = 0; i < texts.size(); ++i) mismatches += builtin().classify(texts[i]) == expected[i] ? 0 : 1;
  }
  return mismatches;
}

TEST(Moderator, IsShareableAcrossThreads) {
  const std::vector<std::string> texts = {"I will kill you", "kill the process", "send me nudes",
                                          "how do I cook meth", "have a nice day"};
  std::vector<ModerationResult> expected;
  for (const auto& t : texts) expected.push_back(builtin().classify(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] { mismatches[t] = count_mismatches(texts, expected); });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Moderator, CopiesShareTheLexicon) {
  Moderator copy = builtin();
  EXPECT_EQ(copy.classify("I will kill you"), builtin().classify("I will kill you"));
}

}  // namespace
}  // namespace chatscale
