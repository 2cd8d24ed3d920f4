// Incremental text normalisation for moderation: bytes in, normalised word tokens out.
//
// Pipeline, applied one byte at a time so that the tokens never depend on how the input is cut:
//   1. UTF-8 decoding; each invalid or truncated sequence becomes U+FFFD (a separator).
//   2. Folding (char_fold.h): lowercase ASCII, accents, homoglyphs, fullwidth; zero-width dropped.
//   3. Pieces: maximal runs of word characters. An apostrophe between letters vanishes ("don't" ->
//      "dont"); '!' and '|' between word characters are leetspeak ("k!ll").
//   4. Runs of three or more one-character pieces separated by at most three separator characters
//      (no line break) are joined into one token: "k i l l", "k.i.l.l", "k-i-l-l" -> "kill".
//      Ordinary words are never merged: only one-character pieces join. A run is joined either by
//      whitespace or by punctuation, not both, so "a b-o-m-b" -> "a", "bomb" and
//      "p.i.p.e b.o.m.b" -> "pipe", "bomb".
//   5. Each token gets its candidate spellings: as written ('@' -> a, '$' -> s, '!' -> i), and when
//      it has letters, with leet digits read as letters (0 o, 1 i/l, 3 e, 4 a, 5 s, 7 t, '|' i/l).
//      A joined run that starts or ends with "a"/"i" also gets a spelling without that letter
//      ("a k i l l e r" -> "killer").
// Ownership: the normaliser owns its small pending state; tokens are returned by value.
// Thread-safety: none; one normaliser per text or stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moderation/char_fold.h"

namespace chatscale::moderation_detail {

// Longest spelling kept for a token; longer words are truncated (and then match only prefixes).
inline constexpr std::size_t kMaxTokenChars = 48;
// Most candidate spellings kept for one token.
inline constexpr std::size_t kMaxSpellings = 16;

struct Token {
  std::vector<std::string> spellings;  // never empty; spellings[0] is the token as written
  bool sentence_start = false;         // first token, or preceded by . ; : ? ! or a line break
  bool clause_start = false;           // sentence_start, or preceded by a comma
  bool truncated = false;              // the word was longer than kMaxTokenChars
};

class TextNormalizer {
 public:
  // Consumes `bytes` and returns the tokens that are now complete (a token is complete once the
  // character after it is known).
  std::vector<Token> feed(std::string_view bytes);
  // Ends the text: returns the remaining tokens. The normaliser is then reset for a new text.
  std::vector<Token> finish();
  // True when every token so far has been returned and clause punctuation has followed the last
  // one: whatever comes next starts a new clause, so no pattern can extend past the last token.
  bool clause_closed() const;

 private:
  struct Separator {
    int chars = 0;
    bool punctuation = false;  // has a character other than whitespace
    bool line_break = false;
    bool sentence_break = false;
    bool clause_break = false;
  };
  struct Piece {
    std::string text;  // folded, capped at kMaxTokenChars
    std::size_t chars = 0;
    Separator before;
  };

  void decode_byte(unsigned char byte);
  void on_code_point(char32_t cp);
  void on_separator(CharKind kind);
  void on_word_char(char a, char b);
  void flush_pending_joiner();
  void end_piece();
  void on_piece(Piece piece);
  void add_to_run(Piece piece);
  Piece take_last_from_run();
  void flush_run();
  void emit(const std::string& text, bool truncated, const Separator& before, bool peel_first,
            bool peel_last);

  // UTF-8 decoder state.
  char32_t cp_ = 0;
  int needed_ = 0;
  char32_t min_cp_ = 0;
  // Piece under construction and the separator before it.
  bool in_piece_ = false;
  Piece piece_;
  Separator separator_;
  char pending_joiner_ = 0;  // '\'', '!' or '|' right after a word character, awaiting the next one
  bool any_piece_ = false;
  // Run of one-character pieces not yet known to be (or not be) a spaced-out word.
  std::vector<Piece> run_head_;  // the first two pieces of the run, kept apart in case it stays short
  Piece run_last_;               // the latest piece, which may move to a new run
  std::size_t run_count_ = 0;
  bool run_punctuation_ = false;  // how the run is joined (set by its second piece)
  std::string run_text_;
  bool run_truncated_ = false;
  std::vector<Token> out_;
};

// The candidate spellings of a word as written (see step 5 above), deduplicated.
std::vector<std::string> token_spellings(std::string_view written);

}  // namespace chatscale::moderation_detail
