#include "moderation/char_fold.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace chatscale::moderation_detail {
namespace {

// U+00C0..U+024F to base letters (NFKD, accents dropped; ligatures spelled out). "" = not folded.
constexpr std::string_view kLatin[] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",  // U+00C0
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",  // U+00D0
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",  // U+00E0
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",  // U+00F0
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",  // U+0100
    "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",  // U+0110
    "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",  // U+0120
    "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",  // U+0130
    "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",  // U+0140
    "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",  // U+0150
    "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",  // U+0160
    "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",  // U+0170
    "b", "b", "", "", "", "", "", "", "", "", "", "", "", "", "", "",  // U+0180
    "", "f", "f", "", "", "", "", "i", "", "", "", "", "", "", "", "",  // U+0190
    "o", "o", "", "", "", "", "", "", "", "", "", "", "", "", "", "u",  // U+01A0
    "u", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",  // U+01B0
    "", "", "", "", "dz", "dz", "dz", "lj", "lj", "lj", "nj", "nj", "nj", "a", "a", "i",  // U+01C0
    "i", "o", "o", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u", "", "a", "a",  // U+01D0
    "a", "a", "", "", "", "", "g", "g", "k", "k", "o", "o", "o", "o", "", "",  // U+01E0
    "j", "dz", "dz", "dz", "g", "g", "", "", "n", "n", "a", "a", "", "", "", "",  // U+01F0
    "a", "a", "a", "a", "e", "e", "e", "e", "i", "i", "i", "i", "o", "o", "o", "o",  // U+0200
    "r", "r", "r", "r", "u", "u", "u", "u", "s", "s", "t", "t", "", "", "h", "h",  // U+0210
    "", "", "", "", "", "", "a", "a", "e", "e", "o", "o", "o", "o", "o", "o",  // U+0220
    "o", "o", "y", "y", "", "", "", "", "", "", "", "", "", "", "", "",  // U+0230
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",  // U+0240
};

struct Homoglyph {
  char32_t cp;
  char ascii;
};

// Greek and Cyrillic letters that look like (or are read as) Latin ones. Sorted by code point.
constexpr Homoglyph kHomoglyphs[] = {
    {0x0386, 'a'}, {0x0388, 'e'}, {0x0389, 'h'}, {0x038A, 'i'}, {0x038C, 'o'}, {0x038E, 'y'},
    {0x038F, 'w'}, {0x0390, 'i'}, {0x0391, 'a'}, {0x0392, 'b'}, {0x0395, 'e'}, {0x0396, 'z'},
    {0x0397, 'h'}, {0x0399, 'i'}, {0x039A, 'k'}, {0x039C, 'm'}, {0x039D, 'n'}, {0x039F, 'o'},
    {0x03A1, 'p'}, {0x03A4, 't'}, {0x03A5, 'y'}, {0x03A7, 'x'}, {0x03AA, 'i'}, {0x03AB, 'y'},
    {0x03AC, 'a'}, {0x03AD, 'e'}, {0x03AE, 'n'}, {0x03AF, 'i'}, {0x03B0, 'u'}, {0x03B1, 'a'},
    {0x03B2, 'b'}, {0x03B3, 'y'}, {0x03B5, 'e'}, {0x03B6, 'z'}, {0x03B7, 'n'}, {0x03B9, 'i'},
    {0x03BA, 'k'}, {0x03BC, 'u'}, {0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'}, {0x03C2, 's'},
    {0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'}, {0x03C9, 'w'}, {0x03CA, 'i'}, {0x03CB, 'u'},
    {0x03CC, 'o'}, {0x03CD, 'u'}, {0x03CE, 'w'}, {0x03F2, 'c'}, {0x03F3, 'j'}, {0x03F9, 'c'},
    {0x0405, 's'}, {0x0406, 'i'}, {0x0407, 'i'}, {0x0408, 'j'}, {0x0410, 'a'}, {0x0412, 'b'},
    {0x0415, 'e'}, {0x041A, 'k'}, {0x041C, 'm'}, {0x041D, 'h'}, {0x041E, 'o'}, {0x0420, 'p'},
    {0x0421, 'c'}, {0x0422, 't'}, {0x0423, 'y'}, {0x0425, 'x'}, {0x0430, 'a'}, {0x0432, 'b'},
    {0x0435, 'e'}, {0x043A, 'k'}, {0x043C, 'm'}, {0x043D, 'h'}, {0x043E, 'o'}, {0x0440, 'p'},
    {0x0441, 'c'}, {0x0442, 't'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x0450, 'e'}, {0x0451, 'e'},
    {0x0455, 's'}, {0x0456, 'i'}, {0x0457, 'i'}, {0x0458, 'j'}, {0x045E, 'y'}, {0x04AE, 'y'},
    {0x04AF, 'y'}, {0x04BA, 'h'}, {0x04BB, 'h'}, {0x04C0, 'l'}, {0x04CF, 'l'}, {0x04D0, 'a'},
    {0x04D1, 'a'}, {0x04D2, 'a'}, {0x04D3, 'a'}, {0x04E6, 'o'}, {0x04E7, 'o'}, {0x0500, 'd'},
    {0x0501, 'd'}, {0x050C, 'g'}, {0x051A, 'q'}, {0x051B, 'q'}, {0x051C, 'w'}, {0x051D, 'w'},
};

struct Range {
  char32_t lo;
  char32_t hi;
};

// Removed outright: they are invisible, so they only ever serve to split a word.
constexpr Range kIgnored[] = {
    {0x00AD, 0x00AD}, {0x02B0, 0x02BA}, {0x02BE, 0x036F}, {0x1AB0, 0x1AFF}, {0x180E, 0x180E},
    {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x206F},
    {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0000, 0xE007F},
    {0xE0100, 0xE01EF},
};

bool in_ranges(char32_t cp, const Range* begin, const Range* end) {
  return std::any_of(begin, end, [cp](const Range& r) { return cp >= r.lo && cp <= r.hi; });
}

FoldedChar word(char a, char b = 0) { return {CharKind::kWord, a, b}; }
FoldedChar kind_only(CharKind kind) { return {kind, 0, 0}; }

FoldedChar fold_ascii(char32_t cp) {
  char c = static_cast<char>(cp);
  if (c >= 'A' && c <= 'Z') return word(static_cast<char>(c - 'A' + 'a'));
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '$') return word(c);
  switch (c) {
    case '\'': case '`': return kind_only(CharKind::kApostrophe);
    case '!': return kind_only(CharKind::kBang);
    case '|': return kind_only(CharKind::kBar);
    case '\n': case '\r': case '\v': case '\f': return kind_only(CharKind::kNewline);
    case '.': case ';': case ':': case '?': return kind_only(CharKind::kBreak);
    case ',': return kind_only(CharKind::kComma);
    default: break;
  }
  if (cp < 0x20 || cp == ' ' || cp == 0x7F) return kind_only(CharKind::kSpace);
  return kind_only(CharKind::kPunct);
}

// Letter-like symbol blocks that map onto a-z (or 0-9) by offset.
bool fold_letter_blocks(char32_t cp, FoldedChar& out) {
  auto letter = [](char32_t offset) { return word(static_cast<char>('a' + offset)); };
  if (cp >= 0x1D400 && cp <= 0x1D6A3) {  // mathematical alphanumerics: runs of A-Z a-z
    out = letter((cp - 0x1D400) % 52 % 26);
  } else if (cp >= 0x1D7CE && cp <= 0x1D7FF) {  // mathematical digits
    out = word(static_cast<char>('0' + (cp - 0x1D7CE) % 10));
  } else if (cp >= 0x24B6 && cp <= 0x24E9) {  // circled letters
    out = letter((cp - 0x24B6) % 26);
  } else if (cp >= 0x1F130 && cp <= 0x1F189) {  // squared / negative circled / negative squared
    out = letter((cp - 0x1F130) % 26);
  } else if (cp >= 0x1F1E6 && cp <= 0x1F1FF) {  // regional indicators
    out = letter(cp - 0x1F1E6);
  } else {
    return false;
  }
  return true;
}

FoldedChar fold_punctuation_and_space(char32_t cp) {
  switch (cp) {
    case 0x00A0: case 0x1680: case 0x202F: case 0x205F: case 0x3000:
      return kind_only(CharKind::kSpace);
    case 0x2028: case 0x2029: case 0x0085:
      return kind_only(CharKind::kNewline);
    case 0x02BB: case 0x02BC: case 0x02BD: case 0x2018: case 0x2019: case 0x201B: case 0x2032:
      return kind_only(CharKind::kApostrophe);
    case 0x00A1: case 0x00BF: case 0x2026: case 0x203C: case 0x2047: case 0x2048: case 0x2049:
    case 0x3002: case 0x037E: case 0x0387:
      return kind_only(CharKind::kBreak);
    case 0x3001: case 0x060C:
      return kind_only(CharKind::kComma);
    default: break;
  }
  if (cp >= 0x2000 && cp <= 0x200A) return kind_only(CharKind::kSpace);
  if (cp < 0xA0) return kind_only(CharKind::kSpace);  // C1 controls
  return kind_only(CharKind::kPunct);
}

bool is_symbol_block(char32_t cp) {
  return (cp >= 0xA1 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2010 && cp <= 0x2BFF) ||
         (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFFF0 && cp <= 0xFFFF) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0;
}

FoldedChar fold_non_ascii(char32_t cp) {
  if (in_ranges(cp, std::begin(kIgnored), std::end(kIgnored))) return kind_only(CharKind::kIgnore);
  if (cp >= 0xFF01 && cp <= 0xFF5E) return fold_ascii(cp - 0xFEE0);  // fullwidth forms
  if (cp == 0xAA) return word('a');
  if (cp == 0xBA) return word('o');
  if (cp == 0xB9) return word('1');
  if (cp == 0xB2 || cp == 0xB3) return word(static_cast<char>('0' + cp - 0xB0));
  if (cp >= 0xC0 && cp <= 0x24F) {
    std::string_view s = kLatin[cp - 0xC0];
    if (!s.empty()) return word(s[0], s.size() > 1 ? s[1] : 0);
  }
  auto it = std::lower_bound(std::begin(kHomoglyphs), std::end(kHomoglyphs), cp,
                             [](const Homoglyph& h, char32_t c) { return h.cp < c; });
  if (it != std::end(kHomoglyphs) && it->cp == cp) return word(it->ascii);
  FoldedChar out;
  if (fold_letter_blocks(cp, out)) return out;
  if (is_symbol_block(cp)) return fold_punctuation_and_space(cp);
  return kind_only(CharKind::kOpaque);
}

}  // namespace

FoldedChar fold_code_point(char32_t cp) {
  if (cp < 0x80) return fold_ascii(cp);
  return fold_non_ascii(cp);
}

}  // namespace chatscale::moderation_detail
