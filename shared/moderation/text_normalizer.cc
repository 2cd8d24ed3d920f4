#include "moderation/text_normalizer.h"

#include <algorithm>
#include <utility>

namespace chatscale::moderation_detail {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Appends `s` unless present, keeping the first kMaxSpellings.
void add_unique(std::vector<std::string>& list, std::string s) {
  if (list.size() >= kMaxSpellings) return;
  if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(std::move(s));
}

CharKind joiner_kind(char c) {
  if (c == '!') return CharKind::kBang;
  if (c == '|') return CharKind::kBar;
  return CharKind::kApostrophe;
}

char joiner_char(CharKind kind) {
  if (kind == CharKind::kBang) return '!';
  if (kind == CharKind::kBar) return '|';
  return '\'';
}

bool is_lone_word_letter(char c) { return c == 'a' || c == 'i'; }

}  // namespace

std::vector<std::string> token_spellings(std::string_view written) {
  std::string plain(written);
  for (char& c : plain) {
    if (c == '@') c = 'a';
    if (c == '$') c = 's';
    if (c == '!') c = 'i';
  }
  std::vector<std::string> out{plain};
  if (std::none_of(plain.begin(), plain.end(), [](char c) { return c >= 'a' && c <= 'z'; })) return out;
  // Leet digits are read as letters only inside words that have letters, so numbers stay numbers.
  std::string base = plain;
  std::vector<std::size_t> ambiguous;  // '1' and '|' read as either 'i' or 'l'
  for (std::size_t i = 0; i < base.size(); ++i) {
    switch (base[i]) {
      case '0': base[i] = 'o'; break;
      case '3': base[i] = 'e'; break;
      case '4': base[i] = 'a'; break;
      case '5': base[i] = 's'; break;
      case '7': base[i] = 't'; break;
      case '1': case '|': ambiguous.push_back(i); break;
      default: break;
    }
  }
  if (ambiguous.size() > 3) {  // too many to try every mix: all 'i', then all 'l'
    for (char letter : {'i', 'l'}) {
      std::string s = base;
      for (std::size_t pos : ambiguous) s[pos] = letter;
      add_unique(out, std::move(s));
    }
    return out;
  }
  for (unsigned mask = 0; mask < (1u << ambiguous.size()); ++mask) {
    std::string s = base;
    for (std::size_t j = 0; j < ambiguous.size(); ++j) s[ambiguous[j]] = (mask >> j & 1u) ? 'l' : 'i';
    add_unique(out, std::move(s));
  }
  return out;
}

std::vector<Token> TextNormalizer::feed(std::string_view bytes) {
  for (char c : bytes) decode_byte(static_cast<unsigned char>(c));
  return std::exchange(out_, {});
}

std::vector<Token> TextNormalizer::finish() {
  if (needed_ > 0) {  // truncated final sequence
    needed_ = 0;
    on_code_point(kReplacement);
  }
  flush_pending_joiner();
  if (in_piece_) end_piece();
  flush_run();
  std::vector<Token> out = std::exchange(out_, {});
  *this = TextNormalizer();
  return out;
}

bool TextNormalizer::clause_closed() const {
  return any_piece_ && !in_piece_ && pending_joiner_ == 0 && run_count_ == 0 && separator_.clause_break;
}

void TextNormalizer::decode_byte(unsigned char b) {
  if (needed_ > 0) {
    if ((b & 0xC0) == 0x80) {
      cp_ = (cp_ << 6) | (b & 0x3F);
      if (--needed_ == 0) {
        bool valid = cp_ >= min_cp_ && cp_ <= 0x10FFFF && !(cp_ >= 0xD800 && cp_ <= 0xDFFF);
        on_code_point(valid ? cp_ : kReplacement);
      }
      return;
    }
    needed_ = 0;  // a sequence cut short: one replacement, then this byte on its own
    on_code_point(kReplacement);
  }
  if (b < 0x80) {
    on_code_point(b);
  } else if (b >= 0xC2 && b <= 0xDF) {
    cp_ = b & 0x1F, needed_ = 1, min_cp_ = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    cp_ = b & 0x0F, needed_ = 2, min_cp_ = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    cp_ = b & 0x07, needed_ = 3, min_cp_ = 0x10000;
  } else {
    on_code_point(kReplacement);
  }
}

void TextNormalizer::on_code_point(char32_t cp) {
  FoldedChar f = fold_code_point(cp);
  switch (f.kind) {
    case CharKind::kIgnore:
      return;
    case CharKind::kWord:
      on_word_char(f.first, f.second);
      return;
    case CharKind::kOpaque:
      on_word_char('#', 0);  // a letter no lexicon word can contain
      return;
    case CharKind::kApostrophe:
    case CharKind::kBang:
    case CharKind::kBar:
      // A joiner right after a word character waits for the next character to decide.
      if (in_piece_ && pending_joiner_ == 0) {
        pending_joiner_ = joiner_char(f.kind);
        return;
      }
      flush_pending_joiner();
      on_separator(f.kind);
      return;
    default:
      flush_pending_joiner();
      on_separator(f.kind);
      return;
  }
}

void TextNormalizer::flush_pending_joiner() {
  if (pending_joiner_ == 0) return;
  CharKind kind = joiner_kind(pending_joiner_);
  pending_joiner_ = 0;
  on_separator(kind);
}

void TextNormalizer::on_separator(CharKind kind) {
  if (in_piece_) end_piece();
  ++separator_.chars;
  if (kind != CharKind::kSpace && kind != CharKind::kNewline) separator_.punctuation = true;
  if (kind == CharKind::kNewline) separator_.line_break = true;
  if (kind == CharKind::kNewline || kind == CharKind::kBreak || kind == CharKind::kBang) {
    separator_.sentence_break = true;
  }
  if (separator_.sentence_break || kind == CharKind::kComma) separator_.clause_break = true;
}

void TextNormalizer::on_word_char(char a, char b) {
  auto append = [this](char c) {
    ++piece_.chars;
    if (piece_.text.size() < kMaxTokenChars) piece_.text.push_back(c);
  };
  if (!in_piece_) {
    in_piece_ = true;
    piece_ = Piece{};
    piece_.before = std::exchange(separator_, Separator{});
  }
  if (pending_joiner_ != 0) {  // the joiner sat between two word characters: part of the word
    char joiner = std::exchange(pending_joiner_, 0);
    if (joiner != '\'') append(joiner);
  }
  append(a);
  if (b != 0) append(b);
}

void TextNormalizer::end_piece() {
  in_piece_ = false;
  on_piece(std::exchange(piece_, Piece{}));
}

void TextNormalizer::on_piece(Piece piece) {
  bool single = piece.chars == 1;
  bool joins_run = single && run_count_ > 0 && piece.before.chars <= 3 && !piece.before.line_break;
  if (joins_run && run_count_ >= 2 && piece.before.punctuation != run_punctuation_) {
    // The run changes how it is joined. A two-piece run hands its last piece to the new run
    // ("a b-o-m-b" -> "a", "bomb"); a longer one keeps it ("p.i.p.e b.o.m.b" -> "pipe", "bomb").
    if (run_count_ == 2) {
      Piece last = take_last_from_run();
      flush_run();
      add_to_run(std::move(last));
    } else {
      flush_run();
    }
  }
  if (!joins_run) flush_run();
  if (!single) {
    emit(piece.text, piece.chars > kMaxTokenChars, piece.before, false, false);
    return;
  }
  if (run_count_ == 1) run_punctuation_ = piece.before.punctuation;
  add_to_run(std::move(piece));
}

void TextNormalizer::add_to_run(Piece piece) {
  ++run_count_;
  if (run_text_.size() < kMaxTokenChars) {
    run_text_ += piece.text;
  } else {
    run_truncated_ = true;
  }
  if (run_head_.size() < 2) run_head_.push_back(piece);
  run_last_ = std::move(piece);
}

TextNormalizer::Piece TextNormalizer::take_last_from_run() {
  // Only called on runs of two or more pieces, before the run is truncated or after (then the text
  // keeps its first kMaxTokenChars characters, which is all that is ever matched).
  --run_count_;
  if (!run_truncated_) run_text_.pop_back();
  if (run_head_.size() > run_count_) run_head_.pop_back();
  return std::move(run_last_);
}

void TextNormalizer::flush_run() {
  if (run_count_ == 0) return;
  if (run_count_ < 3) {
    for (const Piece& p : run_head_) emit(p.text, false, p.before, false, false);
  } else {
    bool peel = run_count_ >= 4;
    emit(run_text_, run_truncated_, run_head_[0].before, peel && is_lone_word_letter(run_text_.front()),
         peel && !run_truncated_ && is_lone_word_letter(run_text_.back()));
  }
  run_head_.clear();
  run_last_ = Piece{};
  run_count_ = 0;
  run_punctuation_ = false;
  run_text_.clear();
  run_truncated_ = false;
}

void TextNormalizer::emit(const std::string& text, bool truncated, const Separator& before,
                          bool peel_first, bool peel_last) {
  Token token;
  token.sentence_start = !any_piece_ || before.sentence_break;
  token.clause_start = token.sentence_start || before.clause_break;
  token.truncated = truncated;
  any_piece_ = true;
  token.spellings = token_spellings(text);
  auto add_all = [&token](std::string_view written) {
    for (std::string& s : token_spellings(written)) add_unique(token.spellings, std::move(s));
  };
  if (peel_first) add_all(std::string_view(text).substr(1));
  if (peel_last) add_all(std::string_view(text).substr(0, text.size() - 1));
  out_.push_back(std::move(token));
}

}  // namespace chatscale::moderation_detail
