// Strict JSON bodies: what is refused, and that the message says what is wrong.
#include "prod/api/json_body.h"

#include <gtest/gtest.h>

namespace chatscale::api {
namespace {

std::string problem(std::string_view body) {
  auto parsed = parse_json_object(body, 1024);
  return parsed.is_ok() ? "" : parsed.status().message();
}

TEST(JsonBody, RefusesWhatIsNotOneObject) {
  EXPECT_NE(problem("").find("a JSON object is required"), std::string::npos);
  EXPECT_NE(problem("{\"a\": ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(problem("{\"a\": 1} trailing").find("invalid JSON"), std::string::npos);
  EXPECT_NE(problem("[]").find("must be a JSON object, not an array"), std::string::npos);
  EXPECT_NE(problem("\"text\"").find("not a string"), std::string::npos);
  EXPECT_NE(problem(R"({"a": {"b": 1, "b": 2}})").find("duplicate key \"b\""), std::string::npos);
  EXPECT_NE(problem("{\"a\": \"\xff\"}").find("invalid JSON"), std::string::npos) << "invalid UTF-8";
  std::string deep(100, '[');
  EXPECT_FALSE(problem("{\"a\": " + deep + std::string(100, ']') + "}").empty());
  EXPECT_EQ(parse_json_object(std::string(2000, ' ') + "{}", 1024).status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(problem(R"({"a": [{"b": 1}, {"b": 2}]})"), "") << "equal keys in different objects are fine";
}

TEST(JsonBody, FieldReaderChecksTypesRangesAndUnknownKeys) {
  auto body = parse_json_object(R"({"name": "x", "n": 3, "f": 0.5, "b": true, "extra": 1})", 1024).value();
  FieldReader fields(body);
  std::string name;
  std::int64_t n = 0;
  double f = 0;
  bool b = false;
  EXPECT_TRUE(fields.text("name", name, TextRule{true, 1, 10}));
  EXPECT_TRUE(fields.integer("n", n, 1, 5));
  EXPECT_TRUE(fields.number("f", f, 0, 1));
  EXPECT_TRUE(fields.boolean("b", b));
  Status status = fields.finish();
  EXPECT_EQ(status.message(), "extra: unknown field");
  EXPECT_EQ(name, "x");
  EXPECT_EQ(n, 3);

  auto wrong = parse_json_object(R"({"n": 9, "name": 1})", 1024).value();
  FieldReader w(wrong, "opts.");
  w.integer("n", n, 1, 5);
  w.text("name", name);
  EXPECT_EQ(w.finish().message(), "opts.n: must be an integer between 1 and 5") << "the first problem wins";

  auto missing = parse_json_object(R"({})", 1024).value();
  FieldReader m(missing);
  m.text("content", name, TextRule{true});
  EXPECT_EQ(m.finish().message(), "content: missing required field");

  auto nul = parse_json_object(R"({"t": "a\u0000b"})", 1024).value();
  FieldReader z(nul);
  z.text("t", name);
  EXPECT_EQ(z.finish().message(), "t: must not contain U+0000");
}

}  // namespace
}  // namespace chatscale::api
