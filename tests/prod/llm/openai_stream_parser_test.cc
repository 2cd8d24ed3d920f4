// OpenAiStreamParser on its own: SSE framing (any split, CRLF, comments, multi-line data), chunk
// fields, usage, finish reasons, and every way a body can be malformed or end early.
#include "prod/llm/openai_stream_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/prod/llm/upstream_test_util.h"

namespace chatscale {
namespace {

using Kind = InferenceEvent::Kind;
using testing::content_chunk;
using testing::kSseDone;
using testing::role_chunk;
using testing::sse;
using testing::usage_chunk;

std::vector<InferenceEvent> drain(OpenAiStreamParser& parser) {
  std::vector<InferenceEvent> out;
  while (parser.has_event()) out.push_back(parser.pop());
  return out;
}

std::string texts(const std::vector<InferenceEvent>& events) {
  std::string t;
  for (const auto& e : events)
    if (e.kind == Kind::kDelta) t += e.text + "|";
  return t;
}

const std::string kBody = role_chunk() + content_chunk("Hello") + content_chunk(", wor") + content_chunk("ld!", "stop") +
                          usage_chunk(12, 3) + kSseDone;

TEST(OpenAiStreamParserTest, AnyWayTheBytesAreSplitGivesTheSameEvents) {
  OpenAiStreamParser whole(5);
  whole.feed(kBody);
  auto expected = drain(whole);
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(texts(expected), "Hello|, wor|ld!|");
  EXPECT_EQ(expected.back().kind, Kind::kDone);
  EXPECT_EQ(expected.back().usage.prompt_tokens, 12);
  EXPECT_EQ(expected.back().usage.completion_tokens, 3);
  EXPECT_EQ(expected.back().finish_reason, FinishReason::kStop);
  EXPECT_TRUE(whole.ended());
  for (std::size_t step : {1u, 2u, 7u, 64u}) {
    OpenAiStreamParser parser(5);
    std::vector<InferenceEvent> got;
    for (std::size_t i = 0; i < kBody.size(); i += step) {
      parser.feed(std::string_view(kBody).substr(i, step));
      for (auto& e : drain(parser)) got.push_back(std::move(e));
    }
    ASSERT_EQ(got.size(), expected.size()) << step;
    EXPECT_EQ(texts(got), texts(expected)) << step;
    EXPECT_EQ(got.back().usage.completion_tokens, 3) << step;
  }
}

TEST(OpenAiStreamParserTest, CrlfCommentsOtherFieldsAndMultiLineDataAreSse) {
  OpenAiStreamParser parser(0);
  parser.feed(": keep-alive\r\n\r\n");
  parser.feed("event: message\r\nid: 7\r\nretry: 100\r\n");
  parser.feed("data: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"a b\"}}]}\r\n\r\n");
  parser.feed("data:{\"choices\":[{\"delta\":{\"content\":\"c\"},\"finish_reason\":\"tool_calls\"}]}\n\n");
  parser.feed("data: [DONE]\n\n");
  auto events = drain(parser);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(texts(events), "a b|c|");
  EXPECT_EQ(events[2].kind, Kind::kDone);
  EXPECT_EQ(events[2].finish_reason, FinishReason::kStop);  // tool_calls: the answer ended
  EXPECT_EQ(events[2].usage.completion_tokens, 2);
}

TEST(OpenAiStreamParserTest, ContinuousUsageGivesTokenCountsPerDelta) {
  auto with_usage = [](const std::string& text, int completion) {
    auto chunk = testing::chunk_with({{"content", text}});
    chunk["usage"] = {{"prompt_tokens", 4}, {"completion_tokens", completion}};
    return sse(chunk);
  };
  OpenAiStreamParser parser(0);
  parser.feed(with_usage("one two", 2) + with_usage(" three", 3) + with_usage(" four five six", 6) + kSseDone);
  auto events = drain(parser);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].tokens, 2);
  EXPECT_EQ(events[1].tokens, 1);
  EXPECT_EQ(events[2].tokens, 3);
  EXPECT_EQ(events[3].usage.prompt_tokens, 4);
  EXPECT_EQ(events[3].usage.completion_tokens, 6);
}

TEST(OpenAiStreamParserTest, DoneWithoutFinishReasonStopsAndEmptyDeltasAreSkipped) {
  OpenAiStreamParser parser(7);
  parser.feed(role_chunk() + content_chunk("") + sse(testing::chunk_with({{"content", nullptr}})) +
              sse({{"choices", nullptr}}) + content_chunk("x") + kSseDone + content_chunk("ignored"));
  auto events = drain(parser);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].finish_reason, FinishReason::kStop);
  EXPECT_EQ(events[1].usage.prompt_tokens, 7);
  EXPECT_EQ(events[1].usage.completion_tokens, 1);
  parser.end_of_stream(unavailable("late"));
  EXPECT_FALSE(parser.has_event());  // nothing after the end
}

TEST(OpenAiStreamParserTest, EndOfBodyAfterAFinishReasonIsDoneOtherwiseAnError) {
  OpenAiStreamParser finished(0);
  finished.feed(content_chunk("a", "length"));
  finished.end_of_stream(Status::ok());
  auto a = drain(finished);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].kind, Kind::kDone);
  EXPECT_EQ(a[1].finish_reason, FinishReason::kLength);

  OpenAiStreamParser cut(0);
  cut.feed(content_chunk("a"));
  cut.end_of_stream(unavailable("connection reset"));
  auto b = drain(cut);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1].kind, Kind::kError);
  EXPECT_EQ(b[1].error.code(), StatusCode::kUnavailable);
  EXPECT_NE(b[1].error.message().find("connection reset"), std::string::npos);

  // A last event without its blank line still counts.
  OpenAiStreamParser unterminated(0);
  unterminated.feed("data: [DONE]");
  unterminated.end_of_stream(Status::ok());
  auto c = drain(unterminated);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, Kind::kDone);
}

TEST(OpenAiStreamParserTest, MalformedInputIsAnUnavailableError) {
  const std::vector<std::string> bodies = {
      "data: {not json\n\n",
      "data: [1,2]\n\n",
      "data: {\"choices\":{\"a\":1}}\n\n",
      "data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n",
      "data: {\"choices\":[{\"delta\":{},\"finish_reason\":3}]}\n\n",
      "data: {\"usage\":{\"completion_tokens\":\"many\"}}\n\n",
      "data: {\"usage\":7}\n\n",
      "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
      "data: " + std::string(1 << 20, 'x') + "x",
  };
  for (const auto& body : bodies) {
    OpenAiStreamParser parser(0);
    parser.feed(content_chunk("ok"));
    parser.feed(body);
    auto events = drain(parser);
    ASSERT_EQ(events.size(), 2u) << body.substr(0, 60);
    EXPECT_EQ(events[0].text, "ok");
    EXPECT_EQ(events[1].kind, Kind::kError) << body.substr(0, 60);
    EXPECT_EQ(events[1].error.code(), StatusCode::kUnavailable);
    EXPECT_TRUE(parser.ended());
  }
}

}  // namespace
}  // namespace chatscale
