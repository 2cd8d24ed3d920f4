// UTF-8 and Unicode helpers of the tokenizers: decoding code points the way llama.cpp does (invalid
// bytes decode to U+FFFD, one byte at a time, so no input is rejected), the code point classes the
// byte-level BPE pre-tokenizers need (letter \p{L}, number \p{N}, whitespace \s) from a generated
// run-length table (unicode_data.cc, made by gen_unicode_data.py; unicode_data_version() names the
// Unicode version), and GPT-2's byte-to-unicode mapping.
//
// Pure functions over immutable tables; thread-safe. Nothing fails: every byte string is accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatscale::engine {

namespace unicode_detail {
struct CodepointRun {
  std::uint32_t first;  // first code point of the run
  std::uint8_t flags;   // kCp* bits
};
extern const char kUnicodeVersion[];
extern const std::size_t kRunCount;
extern const CodepointRun kRuns[];
}  // namespace unicode_detail

inline constexpr std::uint8_t kCpLetter = 1;
inline constexpr std::uint8_t kCpNumber = 2;
inline constexpr std::uint8_t kCpWhitespace = 4;
inline constexpr std::uint32_t kReplacementChar = 0xFFFD;

// The Unicode version of the category table ("14.0.0").
std::string_view unicode_data_version();
// kCp* flags of a code point (0 for code points past U+10FFFF).
std::uint8_t codepoint_flags(std::uint32_t cp);

// Byte length of the UTF-8 sequence a lead byte announces (1 for continuation and invalid bytes), as
// llama.cpp's unicode_len_utf8.
inline std::size_t utf8_lead_len(unsigned char c) {
  static constexpr std::uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[c >> 4];
}

struct Utf8Char {
  std::uint32_t cp;  // kReplacementChar for an invalid or truncated sequence
  std::size_t len;   // bytes consumed (1 for an invalid byte)
};
// Decodes the code point at s[pos] (pos < s.size()).
Utf8Char utf8_decode(std::string_view s, std::size_t pos);
// Appends the UTF-8 encoding of `cp` (cp <= 0x10FFFF).
void utf8_append(std::string& out, std::uint32_t cp);
// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence that later bytes
// could still complete (an incomplete but so far valid tail of at most 3 bytes is held back).
std::size_t utf8_complete_prefix(std::string_view s);

// GPT-2's bytes_to_unicode: the UTF-8 text of the character standing for byte b.
const std::string& gpt2_byte_to_text(std::uint8_t b);
// The byte a GPT-2 byte character stands for, or -1 for a code point outside the mapping.
int gpt2_codepoint_to_byte(std::uint32_t cp);

}  // namespace chatscale::engine
