// Per-code-point folding for moderation text: case folding, Latin diacritics to base letters,
// Cyrillic/Greek homoglyphs and fullwidth / mathematical / circled / regional-indicator letters to
// ASCII, zero-width and combining characters dropped, and a class for everything else.
// Thread-safety: pure functions over constant tables.
#pragma once

#include <cstdint>

namespace chatscale::moderation_detail {

enum class CharKind : std::uint8_t {
  kIgnore,      // zero-width, combining mark, bidi control: removed, joins its neighbours
  kWord,        // folds to one or two ASCII characters (letters, digits, '@', '$')
  kOpaque,      // a letter outside the folded set (CJK, Arabic, ...): part of a word, matches nothing
  kSpace,       // whitespace within a line
  kNewline,     // line or paragraph break
  kBreak,       // sentence punctuation: . ; : ? and their look-alikes
  kComma,       // clause punctuation: , and its look-alikes
  kPunct,       // other punctuation and symbols (hyphen, quotes, emoji, U+FFFD)
  kApostrophe,  // joins two word characters and vanishes ("don't" -> "dont"); else punctuation
  kBang,        // '!': leetspeak 'i' between word characters ("k!ll"); else clause punctuation
  kBar,         // '|': leetspeak 'l'/'i' between word characters; else punctuation
};

struct FoldedChar {
  CharKind kind = CharKind::kPunct;
  char first = 0;   // for kWord: the folded character
  char second = 0;  // for kWord: a second character ("ß" -> "ss", "æ" -> "ae"), else 0
};

FoldedChar fold_code_point(char32_t cp);

}  // namespace chatscale::moderation_detail
