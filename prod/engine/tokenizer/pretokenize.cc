#include "prod/engine/tokenizer/pretokenize.h"

#include <cstdint>

#include "prod/engine/tokenizer/unicode.h"

namespace chatscale::engine {

namespace {

constexpr std::uint32_t kOutOfRange = 0xFFFFFFFF;

// Code points of a text with their byte offsets; positions past the end read as "out of range" (no
// flags), as llama.cpp's _get_cpt/_get_flags do.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {
    cps_.reserve(text.size());
    offsets_.reserve(text.size() + 1);
    for (std::size_t pos = 0; pos < text.size();) {
      const Utf8Char c = utf8_decode(text, pos);
      cps_.push_back(c.cp);
      offsets_.push_back(pos);
      pos += c.len;
    }
    offsets_.push_back(text.size());
  }
  std::size_t size() const { return cps_.size(); }
  std::uint32_t cpt(std::size_t i) const { return i < cps_.size() ? cps_[i] : kOutOfRange; }
  std::uint8_t flags(std::size_t i) const { return i < cps_.size() ? codepoint_flags(cps_[i]) : 0; }
  bool in_range(std::size_t i) const { return i < cps_.size(); }
  bool letter(std::size_t i) const { return (flags(i) & kCpLetter) != 0; }
  bool number(std::size_t i) const { return (flags(i) & kCpNumber) != 0; }
  bool space(std::size_t i) const { return (flags(i) & kCpWhitespace) != 0; }
  // [^\s\p{L}\p{N}]: in range and none of the three classes.
  bool other(std::size_t i) const { return in_range(i) && (flags(i) & 7) == 0; }

  // Emits the word [prev_, end) when non-empty; returns its length in code points.
  std::size_t add(std::size_t end, std::vector<std::string_view>& out) {
    const std::size_t len = end - prev_;
    if (len > 0) out.push_back(text_.substr(offsets_[prev_], offsets_[end] - offsets_[prev_]));
    prev_ = end;
    return len;
  }

 private:
  std::string_view text_;
  std::vector<std::uint32_t> cps_;
  std::vector<std::size_t> offsets_;
  std::size_t prev_ = 0;
};

std::uint32_t ascii_lower(std::uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at pos (case-insensitive for Llama 3); returns the match length or 0.
std::size_t contraction(const Cursor& c, std::size_t pos, bool ignore_case) {
  if (c.cpt(pos) != '\'' || !c.in_range(pos + 1)) return 0;
  const auto low = [&](std::size_t i) { return ignore_case ? ascii_lower(c.cpt(i)) : c.cpt(i); };
  const std::uint32_t n1 = low(pos + 1);
  if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
  if (!c.in_range(pos + 2)) return 0;
  const std::uint32_t n2 = low(pos + 2);
  if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
  return 0;
}

// \s+(?!\S) and \s+ (and, for Llama 3, \s*[\r\n]+ first); returns the new position or pos when no
// whitespace starts here.
std::size_t whitespace_run(const Cursor& c, std::size_t pos, bool newline_rule) {
  std::size_t n = 0;
  std::size_t last_newline_end = 0;
  while (c.space(pos + n)) {
    const std::uint32_t cp = c.cpt(pos + n);
    if (cp == '\r' || cp == '\n') last_newline_end = pos + n + 1;
    ++n;
  }
  if (newline_rule && last_newline_end > 0) return last_newline_end;
  if (n > 1 && c.in_range(pos + n)) return pos + n - 1;  // leave the last space to the next word
  return pos + n;
}

std::vector<std::string_view> split_gpt2(std::string_view text) {
  Cursor c(text);
  std::vector<std::string_view> out;
  for (std::size_t pos = 0; pos < c.size();) {
    if (const std::size_t k = contraction(c, pos, false); k > 0) {
      pos += c.add(pos + k, out);
      continue;
    }
    const std::size_t q = c.cpt(pos) == ' ' ? pos + 1 : pos;  // optional leading space
    if (c.letter(q) || c.number(q) || c.other(q)) {
      const std::uint8_t cls = c.letter(q) ? kCpLetter : c.number(q) ? kCpNumber : 0;
      pos = q;
      if (cls != 0) {
        while ((c.flags(pos) & cls) != 0) ++pos;
      } else {
        while (c.other(pos)) ++pos;
      }
      c.add(pos, out);
      continue;
    }
    const std::size_t end = whitespace_run(c, pos, false);
    pos = end > pos ? end : pos + 1;
    c.add(pos, out);
  }
  return out;
}

std::vector<std::string_view> split_llama3(std::string_view text) {
  Cursor c(text);
  std::vector<std::string_view> out;
  for (std::size_t pos = 0; pos < c.size();) {
    if (const std::size_t k = contraction(c, pos, true); k > 0) {
      pos += c.add(pos + k, out);
      continue;
    }
    const std::uint32_t cp = c.cpt(pos);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(cp == '\r' || cp == '\n' || c.number(pos)) && (c.letter(pos) || c.letter(pos + 1))) {
      ++pos;
      while (c.letter(pos)) ++pos;
      c.add(pos, out);
      continue;
    }
    // \p{N}{1,3}
    if (c.number(pos)) {
      std::size_t ini = pos;
      while (c.number(pos)) {
        if (++pos - ini >= 3) {
          c.add(pos, out);
          ini = pos;
        }
      }
      c.add(pos, out);
      continue;
    }
    // <space>?[^\s\p{L}\p{N}]+[\r\n]*
    const std::size_t q = cp == ' ' ? pos + 1 : pos;
    if (c.other(q)) {
      pos = q;
      while (c.other(pos)) ++pos;
      while (c.cpt(pos) == '\r' || c.cpt(pos) == '\n') ++pos;
      c.add(pos, out);
      continue;
    }
    const std::size_t end = whitespace_run(c, pos, true);
    pos = end > pos ? end : pos + 1;
    c.add(pos, out);
  }
  return out;
}

}  // namespace

std::vector<std::string_view> pretokenize(PreTokenizer pre, std::string_view text) {
  switch (pre) {
    case PreTokenizer::kLlama3: return split_llama3(text);
    case PreTokenizer::kGpt2: return split_gpt2(text);
    case PreTokenizer::kNone: break;
  }
  if (text.empty()) return {};
  return {text};
}

}  // namespace chatscale::engine
