// The hand-written pre-tokenizer splits (Llama 3 and GPT-2 regexes) and the Unicode class table.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prod/engine/tokenizer/pretokenize.h"
#include "prod/engine/tokenizer/unicode.h"

namespace chatscale::engine {
namespace {

std::vector<std::string> split(PreTokenizer p, std::string_view text) {
  std::vector<std::string> out;
  for (auto w : pretokenize(p, text)) out.emplace_back(w);
  return out;
}

using V = std::vector<std::string>;

TEST(UnicodeTable, Classes) {
  EXPECT_EQ(unicode_data_version(), "14.0.0");
  EXPECT_EQ(codepoint_flags('a'), kCpLetter);
  EXPECT_EQ(codepoint_flags(0x00E9), kCpLetter);   // é
  EXPECT_EQ(codepoint_flags(0x4E2D), kCpLetter);   // 中
  EXPECT_EQ(codepoint_flags('7'), kCpNumber);
  EXPECT_EQ(codepoint_flags(0x00BD), kCpNumber);   // ½ (No)
  EXPECT_EQ(codepoint_flags(0x0663), kCpNumber);   // Arabic-Indic three
  EXPECT_EQ(codepoint_flags(' '), kCpWhitespace);
  EXPECT_EQ(codepoint_flags(0x3000), kCpWhitespace);
  EXPECT_EQ(codepoint_flags(0x0085), kCpWhitespace);
  EXPECT_EQ(codepoint_flags('!'), 0);
  EXPECT_EQ(codepoint_flags(0x1F600), 0);          // emoji (So)
  EXPECT_EQ(codepoint_flags(0x10FFFF), 0);
  EXPECT_EQ(codepoint_flags(0x110000), 0);
}

TEST(Utf8, DecodeInvalidAndCompletePrefix) {
  EXPECT_EQ(utf8_decode("\xC3\xA9", 0).cp, 0xE9u);
  EXPECT_EQ(utf8_decode("\xC3", 0).cp, kReplacementChar);
  EXPECT_EQ(utf8_decode("\xC3", 0).len, 1u);
  EXPECT_EQ(utf8_decode("\x80z", 0).len, 1u);
  EXPECT_EQ(utf8_decode("\xF0\x9F\x98\x80", 0).cp, 0x1F600u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(utf8_complete_prefix("ab\xC3"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\x80"), 3u);  // a stray continuation byte cannot complete: emitted
}

TEST(Gpt2Bytes, MappingRoundTrips) {
  EXPECT_EQ(gpt2_byte_to_text(' '), "\xC4\xA0");  // Ġ
  EXPECT_EQ(gpt2_byte_to_text('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(gpt2_byte_to_text('A'), "A");
  for (int b = 0; b < 256; ++b) {
    const std::string& t = gpt2_byte_to_text(static_cast<std::uint8_t>(b));
    EXPECT_EQ(gpt2_codepoint_to_byte(utf8_decode(t, 0).cp), b);
  }
}

TEST(PreTokenizeLlama3, Splits) {
  const auto p = PreTokenizer::kLlama3;
  EXPECT_EQ(split(p, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split(p, "I'VE done 12345 things"), (V{"I", "'VE", " done", " ", "123", "45", " things"}));
  EXPECT_EQ(split(p, "a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(split(p, "x\n\n  y"), (V{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(split(p, "(hi)...\n"), (V{"(hi", ")...\n"}));
  EXPECT_EQ(split(p, "end   "), (V{"end", "   "}));
  EXPECT_EQ(split(p, ""), V{});
}

TEST(PreTokenizeGpt2, Splits) {
  const auto p = PreTokenizer::kGpt2;
  EXPECT_EQ(split(p, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split(p, "I'VE done 12345"), (V{"I", "'", "VE", " done", " 12345"}));  // case-sensitive
  EXPECT_EQ(split(p, "we've"), (V{"we", "'ve"}));
  EXPECT_EQ(split(p, "a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(split(p, "x\n\ny"), (V{"x", "\n", "\n", "y"}));  // \s+(?!\S) leaves the last space
  EXPECT_EQ(split(p, " !!"), (V{" !!"}));
}

TEST(PreTokenize, InvalidUtf8IsKeptByteForByte) {
  const std::string text = "ab\xFF\xC3 cd\x80\xE2\x82";
  for (auto p : {PreTokenizer::kLlama3, PreTokenizer::kGpt2}) {
    std::string joined;
    for (auto w : pretokenize(p, text)) joined.append(w);
    EXPECT_EQ(joined, text);
  }
}

}  // namespace
}  // namespace chatscale::engine
