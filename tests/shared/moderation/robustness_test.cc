#include <gtest/gtest.h>

#include <random>
#include <string>

#include "moderation/moderator.h"

namespace chatscale {
namespace {

const Moderator& builtin() { return Moderator::builtin(); }

void expect_sane(const ModerationResult& r) {
  EXPECT_EQ(r.flagged, !r.categories.empty());
  for (double s : r.scores) {
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
  }
  for (const std::string& name : r.categories) EXPECT_TRUE(moderation_category_index(name).has_value());
}

std::string repeat_to(std::string_view unit, std::size_t bytes) {
  std::string out;
  out.reserve(bytes + unit.size());
  while (out.size() < bytes) out += unit;
  return out;
}

TEST(ModerationRobustness, EmptyAndBlankInputs) {
  for (std::string_view text : {"", " ", "\n\n\t", "...", "!!!???", "\xE2\x80\x8B\xE2\x80\x8B"}) {
    ModerationResult r = builtin().classify(text);
    EXPECT_FALSE(r.flagged) << text;
    expect_sane(r);
  }
}

TEST(ModerationRobustness, OneMegabyteOfBenignText) {
  std::string text = repeat_to("Please kill the process, then shoot a photo of the dashboard. ", 1 << 20);
  ModerationResult r = builtin().classify(text);
  EXPECT_FALSE(r.flagged);
  expect_sane(r);
}

TEST(ModerationRobustness, OneMegabyteWithOneThreatAtTheEnd) {
  std::string text = repeat_to("The weather is mild and the meeting went well. ", 1 << 20);
  text += "I will kill you.";
  ModerationResult r = builtin().classify(text);
  EXPECT_TRUE(r.flagged);
  StreamModerator s(builtin());
  for (std::size_t pos = 0; pos < text.size(); pos += 4096) s.append(std::string_view(text).substr(pos, 4096));
  EXPECT_EQ(s.finish(), r);
}

TEST(ModerationRobustness, PathologicalShapes) {
  // One enormous word, an enormous run of single letters, many apostrophes and bangs.
  for (const std::string& text :
       {std::string(1 << 20, 'k'), repeat_to("a ", 1 << 20), repeat_to("k'!|", 1 << 18),
        repeat_to("1", 1 << 18), repeat_to("k1ll ", 1 << 18)}) {
    ModerationResult r = builtin().classify(text);
    expect_sane(r);
  }
  // Repeating a flagged phrase does not push scores past 1.
  ModerationResult r = builtin().classify(repeat_to("I will kill you. ", 1 << 16));
  EXPECT_TRUE(r.flagged);
  expect_sane(r);
}

TEST(ModerationRobustness, RandomBytesFuzz) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 300);
  for (int round = 0; round < 300; ++round) {
    std::string text(length(rng), '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    ModerationResult whole = builtin().classify(text);
    expect_sane(whole);
    // The stream agrees with the one-shot result on random garbage too.
    StreamModerator s(builtin());
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(1, 7)(rng);
      s.append(std::string_view(text).substr(pos, n));
      pos += n;
    }
    ASSERT_EQ(s.finish(), whole) << "round " << round;
  }
}

TEST(ModerationRobustness, RandomWordSoupFuzz) {
  // Words from the lexicon's world mixed with separators and evasion characters.
  const char* pieces[] = {"kill", "you", "I", "will", "the", "process", " ", ", ", ". ", "k i l l",
                          "\xD1\x96", "1", "0", "!", "'", "\xE2\x80\x8B", "nude", "12", "year", "old",
                          "not", "never", "myself", "want", "to", "die", "shoot", "photo", "\xFF", "-"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pieces) - 1);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    int n = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < n; ++i) {
      text += pieces[pick(rng)];
      if (rng() % 2) text += ' ';
    }
    ModerationResult whole = builtin().classify(text);
    expect_sane(whole);
    StreamModerator s(builtin());
    for (std::size_t pos = 0; pos < text.size(); pos += 3) s.append(std::string_view(text).substr(pos, 3));
    ASSERT_EQ(s.finish(), whole) << text;
  }
}

TEST(ModerationRobustness, InvalidUtf8Sequences) {
  for (std::string_view text : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80",
                                "\x80\x80\x80", "I will k\xC3ill you", "I will kill you\xF0\x9F"}) {
    expect_sane(builtin().classify(text));
  }
  EXPECT_TRUE(builtin().classify("I will kill you\xF0\x9F").flagged);
}

}  // namespace
}  // namespace chatscale
