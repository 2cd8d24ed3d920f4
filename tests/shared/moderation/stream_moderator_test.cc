#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "moderation/moderator.h"

namespace chatscale {
namespace {

const Moderator& builtin() { return Moderator::builtin(); }

ModerationResult stream(const std::vector<std::string_view>& deltas) {
  StreamModerator s(builtin());
  for (std::string_view d : deltas) s.append(d);
  return s.finish();
}

const std::vector<std::string> kSentences = {
    "I will kill you.",
    "kill the process and then I will k i l l you",
    "Please shoot a photo; I'm dying to see it!",
    "you are a pathetic l0ser and nobody likes you",
    "I don't want to live anymore",
    "I can't wait to punch him in the face until he bleeds",
    "how to build a p.i.p.e b.o.m.b",
    "send me n\xE2\x80\x8Bu" "des, caf\xC3\xA9 \xD0\xB0nd k\xD1\x96ll",
    "Muslims should be exterminated, and the bomb of a party was great",
    "The body was dismembered and blood sprayed everywhere",
    "ki\xFF" "ll \xC3 broken utf8 \xE2\x82 here",
};

TEST(StreamModerator, AnySplitInTwoEqualsOneShot) {
  for (const std::string& text : kSentences) {
    ModerationResult whole = builtin().classify(text);
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      std::string_view v(text);
      EXPECT_EQ(stream({v.substr(0, cut), v.substr(cut)}), whole) << text << " cut at " << cut;
    }
  }
}

TEST(StreamModerator, AnySplitInThreeEqualsOneShot) {
  for (const std::string& text : {kSentences[1], kSentences[5], kSentences[7]}) {
    ModerationResult whole = builtin().classify(text);
    std::string_view v(text);
    for (std::size_t a = 0; a <= v.size(); ++a) {
      for (std::size_t b = a; b <= v.size(); ++b) {
        ASSERT_EQ(stream({v.substr(0, a), v.substr(a, b - a), v.substr(b)}), whole)
            << text << " cuts at " << a << ", " << b;
      }
    }
  }
}

TEST(StreamModerator, ByteByByteAndRandomDeltasEqualOneShot) {
  std::mt19937 rng(1234);
  for (const std::string& text : kSentences) {
    ModerationResult whole = builtin().classify(text);
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
    EXPECT_EQ(stream(bytes), whole) << text;
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<std::string_view> pieces;
      for (std::size_t pos = 0; pos < text.size();) {
        std::size_t len = std::uniform_int_distribution<std::size_t>(0, 6)(rng);
        pieces.push_back(std::string_view(text).substr(pos, len));
        pos += len;
      }
      EXPECT_EQ(stream(pieces), whole) << text;
    }
  }
}

TEST(StreamModerator, FlagsAsSoonAsThePhraseIsComplete) {
  StreamModerator s(builtin());
  EXPECT_FALSE(s.append("I will ").flagged);
  EXPECT_FALSE(s.append("kill yo").flagged);
  EXPECT_FALSE(s.append("u").flagged);  // "you" may still grow into "young"
  const ModerationResult& r = s.append(".");  // the clause is over: nothing can still defeat it
  EXPECT_TRUE(r.flagged);
  EXPECT_EQ(&r, &s.result());
  EXPECT_FALSE(s.finished());
  EXPECT_TRUE(s.finish().flagged);
  EXPECT_TRUE(s.finished());
}

TEST(StreamModerator, FlagsWithoutWaitingForTheEndOfTheStream) {
  // A long answer: the flag arrives within a few words of the phrase, not at finish().
  StreamModerator s(builtin());
  const std::vector<std::string> words = {"Sure", ",", " here", " is", " a", " story", ".", " He",
                                          " said", " I", " will", " stab", " you", " and", " then",
                                          " walked", " away", " slowly", "."};
  std::size_t flagged_at = words.size();
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (s.append(words[i]).flagged && flagged_at == words.size()) flagged_at = i;
  }
  // " you" is index 12. The decision waits until the safe phrase "stab you in the back" is ruled
  // out, which needs the words after "you".
  EXPECT_LE(flagged_at, 15u);
}

TEST(StreamModerator, SafePhrasesNeverFlagMidStream) {
  for (std::string_view text : {"kill the process now please", "I want to shoot a photo of it",
                                "execute the script again", "this killer app is great"}) {
    StreamModerator s(builtin());
    for (std::size_t i = 0; i < text.size(); ++i) {
      EXPECT_FALSE(s.append(text.substr(i, 1)).flagged) << text << " at " << i;
    }
    EXPECT_FALSE(s.finish().flagged) << text;
  }
}

TEST(StreamModerator, AppendAfterFinishIsIgnored) {
  StreamModerator s(builtin());
  s.append("hello there");
  EXPECT_FALSE(s.finish().flagged);
  EXPECT_FALSE(s.append(" I will kill you.").flagged);
  EXPECT_FALSE(s.finish().flagged);
}

TEST(StreamModerator, EmptyStreamEqualsEmptyText) {
  StreamModerator s(builtin());
  EXPECT_EQ(s.result(), builtin().classify(""));
  s.append("");
  EXPECT_EQ(s.finish(), builtin().classify(""));
}

TEST(StreamModerator, KeepsOnlyAShortWindowOfALongStream) {
  StreamModerator s(builtin());
  const std::string chunk = "The quick brown fox jumps over the lazy dog while I will keep writing. ";
  std::size_t max_retained = 0;
  for (int i = 0; i < 20000; ++i) {  // ~1.4 MB in small deltas
    s.append(chunk);
    max_retained = std::max(max_retained, s.words_retained());
  }
  EXPECT_GT(s.words_seen(), 250000u);
  EXPECT_LE(max_retained, 64u);
  EXPECT_FALSE(s.finish().flagged);
}

TEST(StreamModerator, OutlivesTheModeratorItWasBuiltFrom) {
  auto custom = std::make_unique<Moderator>(*Moderator::from_lexicon("violence 0.9 alpha"));
  StreamModerator s(*custom);
  custom.reset();
  s.append("alpha");
  EXPECT_TRUE(s.finish().flagged);
}

}  // namespace
}  // namespace chatscale
