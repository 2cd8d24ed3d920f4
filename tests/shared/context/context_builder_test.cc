#include "context/context_builder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatscale {
namespace {

// One token per space-separated word; counts its calls so tests can see the port is used.
class WordTokenizer : public Tokenizer {
 public:
  std::int64_t count_tokens(std::string_view text) const override {
    ++calls;
    std::int64_t words = 0;
    bool in_word = false;
    for (char c : text) {
      if (c != ' ' && !in_word) ++words;
      in_word = c != ' ';
    }
    return words;
  }
  mutable int calls = 0;
};

std::string words(int n, const std::string& w = "w") {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + w;
  return s;
}

Message msg(Role role, std::string content, MessageStatus status = MessageStatus::kComplete) {
  Message m;
  m.role = role;
  m.content = std::move(content);
  m.status = status;
  return m;
}

// Alternating user/assistant messages of `n_words` words each, tagged "m0", "m1", ... oldest first.
std::vector<Message> history(int count, int n_words) {
  std::vector<Message> h;
  for (int i = 0; i < count; ++i) {
    Role role = i % 2 ? Role::kAssistant : Role::kUser;
    h.push_back(msg(role, "m" + std::to_string(i) + " " + words(n_words - 1)));
  }
  return h;
}

std::vector<std::string> contents(const BuiltContext& c) {
  std::vector<std::string> out;
  for (const ChatTurn& t : c.turns) out.push_back(t.content);
  return out;
}

TEST(ContextBuilder, BudgetArithmeticIsExact) {
  WordTokenizer tok;
  auto h = history(6, 10);  // 14 tokens each with the overhead
  // system 3+4, user 2+4: 13; four history messages: 56; total 69.
  auto fits = build_context("a b c", h, "x y", tok, {89, 20, 4});
  ASSERT_TRUE(fits.is_ok()) << fits.status().to_string();
  EXPECT_EQ(fits->prompt_tokens, 69);
  EXPECT_EQ(fits->turns.size(), 6u);
  EXPECT_EQ(fits->dropped_messages, 2);
  auto one_short = build_context("a b c", h, "x y", tok, {88, 20, 4});
  ASSERT_TRUE(one_short.is_ok());
  EXPECT_EQ(one_short->prompt_tokens, 55);
  EXPECT_EQ(one_short->turns.size(), 5u);
  EXPECT_EQ(one_short->dropped_messages, 3);
}

TEST(ContextBuilder, SystemPromptKeptAndFirst) {
  WordTokenizer tok;
  auto h = history(4, 50);
  auto c = build_context("be helpful", h, "hello there", tok, {30, 10, 4});
  ASSERT_TRUE(c.is_ok());
  ASSERT_EQ(c->turns.size(), 2u);
  EXPECT_EQ(c->turns[0].role, Role::kSystem);
  EXPECT_EQ(c->turns[0].content, "be helpful");
  EXPECT_EQ(c->turns[1].role, Role::kUser);
  EXPECT_EQ(c->turns[1].content, "hello there");
  EXPECT_EQ(c->prompt_tokens, 12);
  EXPECT_EQ(c->dropped_messages, 4);
}

TEST(ContextBuilder, EmptySystemPromptAddsNoTurn) {
  WordTokenizer tok;
  auto c = build_context("", {}, "hi", tok, {100, 10, 4});
  ASSERT_TRUE(c.is_ok());
  ASSERT_EQ(c->turns.size(), 1u);
  EXPECT_EQ(c->prompt_tokens, 5);
}

TEST(ContextBuilder, OldestDroppedFirstRestInOrder) {
  WordTokenizer tok;
  auto h = history(5, 3);  // 3 words + 0 overhead each
  auto c = build_context("s", h, "u", tok, {100, 90, 0});  // 10 available: s, u and 2 messages
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(contents(*c), (std::vector<std::string>{"s", "m3 w w", "m4 w w", "u"}));
  EXPECT_EQ(c->turns[1].role, Role::kAssistant);
  EXPECT_EQ(c->turns[2].role, Role::kUser);
  EXPECT_EQ(c->dropped_messages, 3);
}

TEST(ContextBuilder, NeverSplitsAndNeverLeavesAGap) {
  WordTokenizer tok;
  std::vector<Message> h = {msg(Role::kUser, "old small"), msg(Role::kAssistant, words(40)),
                            msg(Role::kUser, "recent one")};
  auto c = build_context("s", h, "u", tok, {20, 0, 1});  // 20: s 2, u 2, recent 3; big 41 cannot fit
  ASSERT_TRUE(c.is_ok());
  // "old small" would fit on its own, but skipping the big message would leave a hole in the dialogue.
  EXPECT_EQ(contents(*c), (std::vector<std::string>{"s", "recent one", "u"}));
  EXPECT_EQ(c->dropped_messages, 2);
  EXPECT_EQ(c->prompt_tokens, 7);
}

TEST(ContextBuilder, OversizeNewMessageIsAnError) {
  WordTokenizer tok;
  auto c = build_context("", {}, words(97), tok, {100, 0, 4});
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "message of 97 tokens exceeds the context window of 100 tokens minus max_tokens 0 "
            "(the system prompt and chat template take 4 more)");
  auto plain = build_context("", {}, words(91), tok, {100, 10, 0});
  ASSERT_FALSE(plain.is_ok());
  EXPECT_EQ(plain.status().message(),
            "message of 91 tokens exceeds the context window of 100 tokens minus max_tokens 10");
  EXPECT_TRUE(build_context("", {}, words(90), tok, {100, 10, 0}).is_ok());
  auto with_system = build_context("s s s s", {}, words(93), tok, {100, 0, 2});  // 6 + 95 > 100
  ASSERT_FALSE(with_system.is_ok());
  EXPECT_NE(with_system.status().message().find("take 8 more"), std::string::npos);
}

TEST(ContextBuilder, EmptyHistory) {
  WordTokenizer tok;
  auto c = build_context("sys", {}, "q", tok, {100, 10, 4});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(contents(*c), (std::vector<std::string>{"sys", "q"}));
  EXPECT_EQ(c->dropped_messages, 0);
  EXPECT_EQ(c->skipped_messages, 0);
  EXPECT_EQ(c->prompt_tokens, 10);
}

TEST(ContextBuilder, EmptyPartialAnswersSkippedOthersKept) {
  WordTokenizer tok;
  std::vector<Message> h = {
      msg(Role::kUser, "first"), msg(Role::kAssistant, "", MessageStatus::kPartial),
      msg(Role::kUser, "again"), msg(Role::kAssistant, "half an", MessageStatus::kPartial),
      msg(Role::kUser, "more"),  msg(Role::kAssistant, "", MessageStatus::kStreaming),
  };
  auto c = build_context("", h, "now", tok, {100, 0, 0});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(contents(*c), (std::vector<std::string>{"first", "again", "half an", "more", "now"}));
  EXPECT_EQ(c->skipped_messages, 2);
  EXPECT_EQ(c->dropped_messages, 0);
  // In the dropped part an empty partial is still counted as skipped, not dropped.
  auto tight = build_context("", h, "now", tok, {3, 0, 0});  // "half an" (2) no longer fits
  ASSERT_TRUE(tight.is_ok());
  EXPECT_EQ(contents(*tight), (std::vector<std::string>{"more", "now"}));
  EXPECT_EQ(tight->dropped_messages, 3);
  EXPECT_EQ(tight->skipped_messages, 2);
}

TEST(ContextBuilder, TokenizerPortHonoured) {
  WordTokenizer words_tok;
  ApproximateTokenizer bytes_tok(4.0);
  std::vector<Message> h = {msg(Role::kUser, "aaaaaaaaaaaaaaaa"), msg(Role::kAssistant, "bbbbbbbbbbbbbbbb")};
  // By words each message is 1 token; by bytes, 4.
  auto by_words = build_context("", h, "cccc", words_tok, {6, 0, 0});
  ASSERT_TRUE(by_words.is_ok());
  EXPECT_EQ(by_words->turns.size(), 3u);
  EXPECT_EQ(by_words->prompt_tokens, 3);
  EXPECT_EQ(words_tok.calls, 3);
  auto by_bytes = build_context("", h, "cccc", bytes_tok, {6, 0, 0});
  ASSERT_TRUE(by_bytes.is_ok());
  EXPECT_EQ(by_bytes->turns.size(), 2u);
  EXPECT_EQ(by_bytes->prompt_tokens, 5);
}

TEST(ContextBuilder, BadBudgetIsAnError) {
  WordTokenizer tok;
  EXPECT_EQ(build_context("", {}, "q", tok, {0, 0, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(build_context("", {}, "q", tok, {10, -1, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(build_context("", {}, "q", tok, {10, 0, -1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(build_context("", {}, "q", tok, {10, 10, 0}).is_ok());  // nothing left for the prompt
}

}  // namespace
}  // namespace chatscale
