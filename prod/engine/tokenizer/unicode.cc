#include "prod/engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace chatscale::engine {

std::string_view unicode_data_version() { return unicode_detail::kUnicodeVersion; }

std::uint8_t codepoint_flags(std::uint32_t cp) {
  if (cp > 0x10FFFF) return 0;
  const auto* begin = unicode_detail::kRuns;
  const auto* end = begin + unicode_detail::kRunCount;
  const auto* it = std::upper_bound(begin, end, cp, [](std::uint32_t c, const unicode_detail::CodepointRun& r) {
    return c < r.first;
  });
  return it == begin ? 0 : (it - 1)->flags;
}

Utf8Char utf8_decode(std::string_view s, std::size_t pos) {
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[pos + i]); };
  const auto cont = [&](std::size_t i) { return pos + i < s.size() && (b(i) & 0xC0) == 0x80; };
  const std::uint8_t c = b(0);
  if (c < 0x80) return {c, 1};
  if ((c & 0x40) == 0) return {kReplacementChar, 1};
  if ((c & 0x20) == 0) {
    if (!cont(1)) return {kReplacementChar, 1};
    return {(static_cast<std::uint32_t>(c & 0x1F) << 6) | (b(1) & 0x3F), 2};
  }
  if ((c & 0x10) == 0) {
    if (!cont(1) || !cont(2)) return {kReplacementChar, 1};
    return {(static_cast<std::uint32_t>(c & 0x0F) << 12) | (static_cast<std::uint32_t>(b(1) & 0x3F) << 6) |
                (b(2) & 0x3F),
            3};
  }
  if ((c & 0x08) == 0) {
    if (!cont(1) || !cont(2) || !cont(3)) return {kReplacementChar, 1};
    return {(static_cast<std::uint32_t>(c & 0x07) << 18) | (static_cast<std::uint32_t>(b(1) & 0x3F) << 12) |
                (static_cast<std::uint32_t>(b(2) & 0x3F) << 6) | (b(3) & 0x3F),
            4};
  }
  return {kReplacementChar, 1};
}

void utf8_append(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::size_t utf8_complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence is not finished yet.
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<std::uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    const std::size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

namespace {

struct ByteTables {
  std::array<std::string, 256> text;
  std::array<std::int16_t, 324> byte_of_cp;  // GPT-2's characters all lie below U+0144
};

ByteTables build_byte_tables() {
  ByteTables t;
  t.byte_of_cp.fill(-1);
  const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const std::uint32_t cp = printable(b) ? static_cast<std::uint32_t>(b) : static_cast<std::uint32_t>(next++);
    utf8_append(t.text[b], cp);
    t.byte_of_cp[cp] = static_cast<std::int16_t>(b);
  }
  return t;
}

const ByteTables& byte_tables() {
  static const ByteTables tables = build_byte_tables();
  return tables;
}

}  // namespace

const std::string& gpt2_byte_to_text(std::uint8_t b) { return byte_tables().text[b]; }

int gpt2_codepoint_to_byte(std::uint32_t cp) {
  const auto& t = byte_tables();
  return cp < t.byte_of_cp.size() ? t.byte_of_cp[cp] : -1;
}

}  // namespace chatscale::engine
