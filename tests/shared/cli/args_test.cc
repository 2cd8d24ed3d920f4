#include "cli/args.h"

#include <gtest/gtest.h>

namespace chatscale::cli {
namespace {

struct Parsed {
  std::string file, out = "reports";
  double sample = 1;
  std::int64_t seed = 0;
  bool quiet = false;
  std::vector<std::string> rest;
};

ArgParser make(Parsed& p, bool with_rest = false) {
  ArgParser a("chatscale sim", "Runs a scenario.");
  a.positional("SCENARIO", &p.file, "scenario file");
  a.option("--out", "DIR", &p.out, "output folder");
  a.option("--sample", "K", &p.sample, "sampling factor");
  a.option("--seed", "N", &p.seed, "random seed");
  a.flag("--quiet", &p.quiet, "no progress");
  if (with_rest) a.rest("TEXT", &p.rest, "more");
  return a;
}

TEST(ArgParser, ParsesEveryForm) {
  Parsed p;
  auto a = make(p);
  ASSERT_TRUE(a.parse({"x.yaml", "--out", "o", "--sample=100", "--seed", "7", "--quiet"}).is_ok());
  EXPECT_EQ(p.file, "x.yaml");
  EXPECT_EQ(p.out, "o");
  EXPECT_EQ(p.sample, 100);
  EXPECT_EQ(p.seed, 7);
  EXPECT_TRUE(p.quiet);
}

TEST(ArgParser, ErrorsNameTheProblem) {
  Parsed p;
  auto a = make(p);
  auto s = a.parse({"x.yaml", "--bogus"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown option --bogus"), std::string::npos);
  Parsed q;
  auto b = make(q);
  EXPECT_NE(b.parse({"x.yaml", "--sample", "many"}).message().find("expected a number"), std::string::npos);
  Parsed r;
  auto c = make(r);
  EXPECT_NE(c.parse({}).message().find("missing SCENARIO"), std::string::npos);
  Parsed t;
  auto d = make(t);
  EXPECT_NE(d.parse({"x.yaml", "--out"}).message().find("needs a value"), std::string::npos);
  Parsed u;
  auto e = make(u);
  EXPECT_NE(e.parse({"x.yaml", "y.yaml"}).message().find("unexpected argument"), std::string::npos);
  Parsed v;
  auto f = make(v);
  EXPECT_FALSE(f.parse({"x.yaml", "--seed", "1.5"}).is_ok());
  Parsed w;
  auto g = make(w);
  EXPECT_FALSE(g.parse({"x.yaml", "--quiet=yes"}).is_ok());
}

TEST(ArgParser, HelpAndRest) {
  Parsed p;
  auto a = make(p, true);
  ASSERT_TRUE(a.parse({"--help"}).is_ok());
  EXPECT_TRUE(a.help_requested());
  EXPECT_NE(a.usage().find("--sample K"), std::string::npos);
  Parsed q;
  auto b = make(q, true);
  ASSERT_TRUE(b.parse({"f", "one", "--", "--two"}).is_ok());
  EXPECT_EQ(q.rest, (std::vector<std::string>{"one", "--two"}));
}

}  // namespace
}  // namespace chatscale::cli
