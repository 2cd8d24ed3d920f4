// Chat prompt rendering (exact strings) and template detection.
#include <vector>

#include <gtest/gtest.h>

#include "prod/engine/tokenizer/chat_template.h"

namespace chatscale::engine {
namespace {

Tokenizer spm_tokenizer() {
  Vocab v;
  EXPECT_TRUE(apply_vocab_defaults(v, VocabType::kSpm, "").is_ok());
  v.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81"};
  v.token_types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl, TokenType::kNormal};
  return Tokenizer::create(v).value();
}

TEST(ChatTemplate, Llama3Exact) {
  const std::vector<ChatMessage> m = {{"system", "You are terse."}, {"user", "  Hi!\n"}, {"assistant", "Hello."},
                                      {"user", "Bye"}};
  auto r = render_chat(ChatFormat::kLlama3, m);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  auto no_prompt = render_chat(ChatFormat::kLlama3, std::span(m).first(1), false);
  EXPECT_EQ(*no_prompt, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>");
}

TEST(ChatTemplate, Llama2Exact) {
  const std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye "}};
  auto r = render_chat(ChatFormat::kLlama2, m);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]");
  const std::vector<ChatMessage> no_sys = {{"user", "Hi"}};
  EXPECT_EQ(*render_chat(ChatFormat::kLlama2, no_sys), "<s>[INST] Hi [/INST]");
}

TEST(ChatTemplate, Llama2RejectsBadRoleOrder) {
  const std::vector<ChatMessage> m = {{"user", "a"}, {"user", "b"}};
  auto r = render_chat(ChatFormat::kLlama2, m);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("expected 'assistant'"), std::string::npos);
  EXPECT_FALSE(render_chat(ChatFormat::kLlama3, {}).is_ok());
}

TEST(ChatTemplate, Detection) {
  const Tokenizer t = spm_tokenizer();
  EXPECT_EQ(*detect_chat_format("{{ '<|start_header_id|>' + message['role'] }}", t), ChatFormat::kLlama3);
  EXPECT_EQ(*detect_chat_format("{{ bos_token + '[INST] ' + content }}", t), ChatFormat::kLlama2);
  EXPECT_EQ(*detect_chat_format("", t), ChatFormat::kLlama2);  // SPM default
  auto bad = detect_chat_format("{{ '<|im_start|>' + role }}", t);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("unsupported chat template"), std::string::npos);
}

}  // namespace
}  // namespace chatscale::engine
