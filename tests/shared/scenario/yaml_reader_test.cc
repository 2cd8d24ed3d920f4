#include "scenario/yaml_reader.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace chatscale {
namespace {

// Reads `text` as file "t.yaml" with `read`, returns the resulting status message ("" when OK).
std::string read_errors(const std::string& text, const std::function<void(YamlMap&)>& read) {
  YamlDocument doc("t.yaml");
  doc.load(text);
  read_root(doc, read);
  return doc.status().message();
}

TEST(YamlReaderHelpers, FormatNumber) {
  EXPECT_EQ(format_yaml_number(0), "0");
  EXPECT_EQ(format_yaml_number(1.5), "1.5");
  EXPECT_EQ(format_yaml_number(17500), "17500");
  EXPECT_EQ(format_yaml_number(-12), "-12");
  EXPECT_EQ(format_yaml_number(0.2), "0.2");
}

TEST(YamlReaderHelpers, EditDistanceAndSuggestion) {
  EXPECT_EQ(edit_distance("replcas", "replicas"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(closest_match("replcas", {"read_replicas", "replicas", "region"}), "replicas");
  EXPECT_EQ(closest_match("zzzzzz", {"replicas", "region"}), "");
  EXPECT_EQ(closest_match("nam", {"name", "group"}), "name");
}

TEST(YamlReaderHelpers, RangeMessages) {
  EXPECT_EQ(Range::fraction().check(0.5), "");
  EXPECT_EQ(Range::fraction().check(1.5), "must be between 0 and 1");
  EXPECT_EQ(Range::at_least(0).check(-1), "must be at least 0");
  EXPECT_EQ(Range::positive().check(0), "must be greater than 0");
  EXPECT_EQ(Range::positive().check(1e-9), "");
  EXPECT_EQ((Range{0, 1, true}).check(0), "must be greater than 0 and at most 1");
  EXPECT_EQ((Range{-Range().max, 10, false}).check(11), "must be at most 10");
}

TEST(YamlReader, TypedGettersReadValuesAndKeepDefaults) {
  double d = 7;
  double absent = 3;
  std::int64_t i = 0;
  int small = 0;
  bool b = false;
  std::string s;
  std::vector<double> v;
  std::map<std::string, double> m;
  enum class Color { kRed, kBlue } color = Color::kRed;
  const std::string errors = read_errors(
      "d: 2.5\ni: 1_000_000_000\nsmall: -3\nb: true\ns: hello\nv: [1, 2, 3]\nm: {a: 1, b: 2.5}\ncolor: blue\n",
      [&](YamlMap& r) {
        r.number("d", d);
        r.number("absent", absent);
        r.integer("i", i);
        r.integer("small", small);
        r.boolean("b", b);
        r.text("s", s);
        r.numbers("v", v, Range::any());
        r.number_map("m", m, Range::any());
        r.choice("color", color, {{"red", Color::kRed}, {"blue", Color::kBlue}});
      });
  EXPECT_EQ(errors, "");
  EXPECT_DOUBLE_EQ(d, 2.5);
  EXPECT_DOUBLE_EQ(absent, 3);
  EXPECT_EQ(i, 1'000'000'000);
  EXPECT_EQ(small, -3);
  EXPECT_TRUE(b);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(v, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(m, (std::map<std::string, double>{{"a", 1}, {"b", 2.5}}));
  EXPECT_EQ(color, Color::kBlue);
}

TEST(YamlReader, IntegerAcceptsExponentWhenWhole) {
  std::int64_t i = 0;
  EXPECT_EQ(read_errors("i: 1e9\n", [&](YamlMap& r) { r.integer("i", i); }), "");
  EXPECT_EQ(i, 1'000'000'000);
  EXPECT_EQ(read_errors("i: 9007199254740993\n", [&](YamlMap& r) { r.integer("i", i); }), "");
  EXPECT_EQ(i, 9007199254740993LL);  // beyond 2^53, read exactly
}

TEST(YamlReader, TypeErrorsNameWhatWasFound) {
  double d = 0;
  std::int64_t i = 0;
  bool b = false;
  std::string s;
  EXPECT_EQ(read_errors("\nd: {a: 1}\n", [&](YamlMap& r) { r.number("d", d); }),
            "t.yaml:2: d: expected a number, got a map");
  EXPECT_EQ(read_errors("d: [1]\n", [&](YamlMap& r) { r.number("d", d); }),
            "t.yaml:1: d: expected a number, got a list");
  EXPECT_EQ(read_errors("d: abc\n", [&](YamlMap& r) { r.number("d", d); }),
            "t.yaml:1: d: expected a number, got \"abc\"");
  EXPECT_EQ(read_errors("d: .nan\n", [&](YamlMap& r) { r.number("d", d); }),
            "t.yaml:1: d: expected a number, got \".nan\"");
  EXPECT_EQ(read_errors("d:\nx: 1\n", [&](YamlMap& r) { r.number("d", d); r.number("x", d); }),
            "t.yaml:1: d: expected a number, got nothing (null)");
  EXPECT_EQ(read_errors("i: 2.5\n", [&](YamlMap& r) { r.integer("i", i); }),
            "t.yaml:1: i: expected a whole number, got \"2.5\"");
  EXPECT_EQ(read_errors("b: maybe\n", [&](YamlMap& r) { r.boolean("b", b); }),
            "t.yaml:1: b: expected true or false, got \"maybe\"");
  EXPECT_EQ(read_errors("s: [a]\n", [&](YamlMap& r) { r.text("s", s); }),
            "t.yaml:1: s: expected a string, got a list");
  EXPECT_EQ(read_errors("s: \"\"\n", [&](YamlMap& r) { r.text("s", s); }), "t.yaml:1: s: must not be empty");
  EXPECT_EQ(read_errors("- 1\n", [&](YamlMap&) {}), "t.yaml:1: (document): expected a map, got a list");
}

TEST(YamlReader, RangeErrorQuotesTheValueAsWritten) {
  double d = 0;
  EXPECT_EQ(read_errors("a:\n  b:\n    d: 1.50\n",
                        [&](YamlMap& r) {
                          r.section("a", [&](YamlMap& a) { a.section("b", [&](YamlMap& b) { b.number("d", d, Range::fraction()); }); });
                        }),
            "t.yaml:3: a.b.d: must be between 0 and 1, got 1.50");
  EXPECT_DOUBLE_EQ(d, 0);  // a rejected value leaves the default
}

TEST(YamlReader, ChoiceSuggestsTheClosestName) {
  int x = 0;
  EXPECT_EQ(read_errors("k: posson\n", [&](YamlMap& r) { r.choice("k", x, {{"poisson", 1}, {"uniform", 2}}); }),
            "t.yaml:1: k: must be one of poisson, uniform, got \"posson\" (did you mean \"poisson\"?)");
}

TEST(YamlReader, UnknownAndDuplicateKeys) {
  double d = 0;
  EXPECT_EQ(read_errors("replicas: 1\nreplcas: 2\nzzz: 3\n", [&](YamlMap& r) { r.number("replicas", d); }),
            "t.yaml:2: replcas: unknown field \"replcas\" (did you mean \"replicas\"?)\n"
            "t.yaml:3: zzz: unknown field \"zzz\"");
  EXPECT_EQ(read_errors("d: 1\nd: 2\n", [&](YamlMap& r) { r.number("d", d); }),
            "t.yaml:2: d: duplicate field (first set on line 1)");
  EXPECT_DOUBLE_EQ(d, 1);
}

TEST(YamlReader, ListsCarryIndexedPathsAndRequiredFields) {
  std::vector<double> got;
  const std::string errors = read_errors("items:\n  - {v: 1}\n  - {w: 2}\n  - 3\n", [&](YamlMap& r) {
    r.list("items", [&](YamlMap& item) {
      item.require({"v"});
      double v = -1;
      item.number("v", v);
      got.push_back(v);
    });
  });
  EXPECT_EQ(errors,
            "t.yaml:3: items[1].v: missing required field\n"
            "t.yaml:3: items[1].w: unknown field \"w\"\n"
            "t.yaml:4: items[2]: expected a map, got \"3\"");
  EXPECT_EQ(got, (std::vector<double>{1, -1, -1}));
}

TEST(YamlReader, NumbersAndMatrixCheckEveryElement) {
  std::vector<double> v;
  std::vector<std::vector<double>> m;
  EXPECT_EQ(read_errors("v: [1, -2, x]\n", [&](YamlMap& r) { r.numbers("v", v, Range::at_least(0)); }),
            "t.yaml:1: v[1]: must be at least 0, got -2\nt.yaml:1: v[2]: expected a number, got \"x\"");
  EXPECT_EQ(read_errors("v: [1, 2]\n", [&](YamlMap& r) { r.numbers("v", v, Range::any(), 3); }),
            "t.yaml:1: v: expected 3 values, got 2");
  EXPECT_EQ(read_errors("m:\n  - [1, 2]\n  - [3]\n", [&](YamlMap& r) { r.matrix("m", m, Range::any()); }),
            "t.yaml:3: m[1]: expected 2 values like row 0, got 1");
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(read_errors("m:\n  - [1, 2]\n  - [3, 4]\n", [&](YamlMap& r) { r.matrix("m", m, Range::any()); }), "");
  EXPECT_EQ(m, (std::vector<std::vector<double>>{{1, 2}, {3, 4}}));
}

TEST(YamlReader, SyntaxErrorCarriesItsLine) {
  YamlDocument doc("t.yaml");
  EXPECT_FALSE(doc.load("a: 1\nb: [1, 2\nc: 3\n"));
  const std::string message = doc.status().message();
  EXPECT_EQ(message.rfind("t.yaml:", 0), 0u);
  EXPECT_NE(message.find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
}

TEST(YamlReader, ErrorsAreSortedAndCapped) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "k" + std::to_string(i) + ": 1\n";
  const std::string errors = read_errors(text, [](YamlMap&) {});
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 20);
  EXPECT_EQ(errors.rfind("t.yaml:1: k0:", 0), 0u);
  EXPECT_NE(errors.find("t.yaml:20: k19:"), std::string::npos);
  EXPECT_EQ(errors.find("t.yaml:21:"), std::string::npos);
  EXPECT_NE(errors.find("\n... and 5 more errors"), std::string::npos);
}

TEST(YamlReader, ErrorAtUsesTheRecordedLineOrTheNearestParent) {
  YamlDocument doc("t.yaml");
  ASSERT_TRUE(doc.load("a: 1\nb:\n  c: 2\n"));
  read_root(doc, [](YamlMap& r) {
    double x = 0;
    r.number("a", x);
    r.section("b", [&](YamlMap& b) { b.number("c", x); });
  });
  EXPECT_EQ(doc.line_of("b.c"), 3);
  EXPECT_EQ(doc.line_of("b.missing"), 2);
  EXPECT_EQ(doc.line_of("nowhere"), 1);
  EXPECT_TRUE(doc.has_path("b.c"));
  EXPECT_FALSE(doc.has_path("b.missing"));
  doc.error_at("b.c", "too big");
  EXPECT_EQ(doc.status().message(), "t.yaml:3: b.c: too big");
}

TEST(YamlReader, SchemaWalkListsEveryKeyWithoutErrors) {
  YamlDocument doc("<schema>", true);
  read_root(doc, [](YamlMap& r) {
    std::string name;
    r.require({"name"});
    r.text("name", name);
    r.section("s", [&](YamlMap& s) {
      double x = 0;
      s.number("x", x, Range::positive());
    });
    r.list("items", [&](YamlMap& item) {
      std::int64_t n = 0;
      item.integer("n", n);
    });
  });
  EXPECT_FALSE(doc.has_errors());
  EXPECT_EQ(doc.schema_paths(), (std::set<std::string>{"name", "s.x", "items", "items[].n"}));
}

}  // namespace
}  // namespace chatscale
