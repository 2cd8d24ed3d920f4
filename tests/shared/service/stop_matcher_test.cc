// StopMatcher: stop strings split across deltas at every cut point, overlapping prefixes, several
// stops, UTF-8 kept whole, stop text never emitted, held-back text flushed at the end.
#include "service/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatscale {
namespace {

struct Fed {
  std::string emitted;
  bool stopped = false;
};

// Feeds `pieces` one by one, then flushes.
Fed feed_all(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Fed r;
  for (const std::string& p : pieces) {
    r.emitted += m.feed(p);
    if (m.stopped()) break;
  }
  r.emitted += m.flush();
  r.stopped = m.stopped();
  return r;
}

TEST(StopMatcher, NoStopsPassesTextThrough) {
  StopMatcher m;
  EXPECT_FALSE(m.active());
  EXPECT_EQ(m.feed("hello"), "hello");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopSplitAtEveryCutPoint) {
  const std::string text = "The answer is 42. END of story";
  for (std::size_t a = 0; a <= text.size(); ++a) {
    for (std::size_t b = a; b <= text.size(); ++b) {
      Fed r = feed_all({"END"}, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      EXPECT_TRUE(r.stopped) << a << "," << b;
      EXPECT_EQ(r.emitted, "The answer is 42. ") << a << "," << b;
    }
  }
}

TEST(StopMatcher, OneByteDeltasNeverEmitStopText) {
  const std::string text = "abc STOP def";
  StopMatcher m({"STOP"});
  std::string emitted;
  for (char c : text) {
    std::string out = m.feed(std::string(1, c));
    emitted += out;
    EXPECT_EQ(emitted.find('S'), std::string::npos) << "emitted part of the stop: " << emitted;
    if (m.stopped()) break;
  }
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(emitted, "abc ");
  EXPECT_EQ(m.feed("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, OverlappingPrefixes) {
  // "ab" inside "aab": the earliest start wins.
  EXPECT_EQ(feed_all({"ab", "aab"}, {"x", "a", "a", "b", "y"}).emitted, "x");
  EXPECT_EQ(feed_all({"aab"}, {"a", "a", "a", "b"}).emitted, "a");
  EXPECT_EQ(feed_all({"ab"}, {"a", "a", "b"}).emitted, "a");
  // A prefix that fails to complete is released.
  Fed r = feed_all({"aab"}, {"a", "a", "c"});
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.emitted, "aac");
}

TEST(StopMatcher, HoldsOnlyWhatCouldStillMatch) {
  StopMatcher m({"<|end|>"});
  EXPECT_EQ(m.feed("hello <|e"), "hello ");
  EXPECT_EQ(m.held_bytes(), 3u);
  EXPECT_EQ(m.feed("x"), "<|ex");
  EXPECT_EQ(m.held_bytes(), 0u);
}

TEST(StopMatcher, MultipleStopsFirstOccurrenceWins) {
  Fed r = feed_all({"zzz", "\n\n", "User:"}, {"line one\n", "line two User:", " more\n\nzzz"});
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.emitted, "line one\nline two ");
  // A shorter stop inside a longer one that has not completed yet stops first.
  EXPECT_EQ(feed_all({"abcd", "bc"}, {"a", "b", "c", "d"}).emitted, "a");
}

TEST(StopMatcher, TheCutDoesNotDependOnHowTheTextIsSplit) {
  // "y" completes before "xyz" does, although "xyz" starts first: the same cut whatever the deltas.
  const std::vector<std::string> stops = {"xyz", "y"};
  EXPECT_EQ(feed_all(stops, {"xyz"}).emitted, "x");
  EXPECT_EQ(feed_all(stops, {"x", "y", "z"}).emitted, "x");
  EXPECT_EQ(feed_all(stops, {"xy", "z"}).emitted, "x");
  // Every split of a longer text into two deltas gives the one-delta answer.
  const std::string text = "tell: abxyzab and more";
  const std::vector<std::string> more = {"abxyz", "zab", "y"};
  const std::string whole = feed_all(more, {text}).emitted;
  for (std::size_t cut = 0; cut <= text.size(); ++cut)
    EXPECT_EQ(feed_all(more, {text.substr(0, cut), text.substr(cut)}).emitted, whole) << "cut at " << cut;
  EXPECT_EQ(whole, "tell: abx");
}

TEST(StopMatcher, HeldTextIsFlushedAtTheEnd) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.feed("almost ST"), "almost ");
  EXPECT_EQ(m.flush(), "ST");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, Utf8StaysWhole) {
  // Stop "é!" (C3 A9 21) after "café": the held bytes are whole characters at every cut.
  const std::string text = "un café é! là";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    StopMatcher m({"é!"});
    std::string first = m.feed(text.substr(0, cut));
    std::string second = m.stopped() ? std::string() : m.feed(text.substr(cut));
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(first + second, "un café ") << cut;
  }
  // "é" (C3 A9) split in two, with a stop "ü" (C3 BC) sharing its first byte: the lead byte waits
  // and leaves with its continuation byte.
  StopMatcher m({"ü"});
  EXPECT_EQ(m.feed("a\xC3"), "a");
  EXPECT_EQ(m.feed("\xA9"), "\xC3\xA9");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", ""});
  EXPECT_FALSE(m.active());
  EXPECT_EQ(m.feed("abc"), "abc");
}

}  // namespace
}  // namespace chatscale
