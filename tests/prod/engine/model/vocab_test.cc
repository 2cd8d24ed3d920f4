// The built-in byte-level BPE vocabulary: GPT-2 byte tokens, learned merges, Llama-3 specials.
#include <gtest/gtest.h>

#include <set>

#include "prod/engine/model/bpe_vocab.h"

namespace chatscale::engine {
namespace {

TEST(BpeVocab, ByteTokensFollowGpt2) {
  const auto order = gpt2_byte_order();
  ASSERT_EQ(order.size(), 256u);
  EXPECT_EQ(order[0], '!');  // GPT-2 / Llama-3 token 0 is "!"
  EXPECT_EQ(gpt2_byte_token(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(gpt2_byte_token('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(gpt2_byte_token('a'), "a");
  std::set<std::string> distinct;
  for (int b = 0; b < 256; ++b) distinct.insert(gpt2_byte_token(static_cast<std::uint8_t>(b)));
  EXPECT_EQ(distinct.size(), 256u);
}

TEST(BpeVocab, MergesSpecialsAndSize) {
  auto v = build_bpe_vocab(2000);
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(v->tokens.size(), 2000u);
  EXPECT_EQ(v->token_type.size(), 2000u);
  EXPECT_GT(v->merges.size(), 100u);
  // Every merge joins two existing tokens into an existing token.
  std::set<std::string> toks(v->tokens.begin(), v->tokens.end());
  for (const std::string& m : v->merges) {
    const auto sp = m.find(' ');
    ASSERT_NE(sp, std::string::npos);
    EXPECT_TRUE(toks.count(m.substr(0, sp)) && toks.count(m.substr(sp + 1)) && toks.count(m.substr(0, sp) + m.substr(sp + 1))) << m;
  }
  EXPECT_TRUE(toks.count("\xC4\xA0the"));  // " the" was learned
  EXPECT_EQ(v->tokens[static_cast<std::size_t>(v->bos_id)], "<|begin_of_text|>");
  EXPECT_EQ(v->tokens[static_cast<std::size_t>(v->eos_id)], "<|eot_id|>");
  EXPECT_EQ(v->tokens[static_cast<std::size_t>(v->end_of_text_id)], "<|end_of_text|>");
  EXPECT_EQ(v->token_type[static_cast<std::size_t>(v->bos_id)], 3);
  EXPECT_EQ(v->tokens.back().rfind("<|reserved_special_token_", 0), 0u);
  EXPECT_EQ(v->token_type.back(), 3);
  EXPECT_EQ(v->token_type[0], 1);
  // Small vocabularies cut the merges short; too small is an error.
  auto small = build_bpe_vocab(300);
  ASSERT_TRUE(small.is_ok());
  EXPECT_GE(small->merges.size(), 300u - 256 - 5);
  EXPECT_EQ(small->tokens.size(), 300u);
  EXPECT_FALSE(build_bpe_vocab(260).is_ok());
  EXPECT_NE(llama3_chat_template().find("<|start_header_id|>"), std::string_view::npos);
}

}  // namespace
}  // namespace chatscale::engine
