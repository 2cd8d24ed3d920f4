// Encoding: special-token partition, the SPM merge loop and the byte-level BPE merge loop, ported
// from llama.cpp's llama-vocab.cpp (llm_tokenizer_spm_session, llm_tokenizer_bpe_session,
// tokenizer_st_partition) so that the ids match its test vectors exactly.
#include <map>
#include <queue>
#include <string>
#include <utility>

#include "prod/engine/tokenizer/pretokenize.h"
#include "prod/engine/tokenizer/tokenizer_state.h"
#include "prod/engine/tokenizer/unicode.h"

namespace chatscale::engine {

namespace {

struct Fragment {
  std::int32_t token;  // kNoToken for raw text
  std::size_t offset;
  std::size_t length;
};

// Splits the raw-text fragments at every occurrence of each special token, longest tokens first.
std::vector<Fragment> partition(const Tokenizer::State& s, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags{{kNoToken, 0, text.size()}};
  std::vector<Fragment> next;
  for (const std::int32_t id : s.special_tokens) {
    const TokenType t = s.vocab.type_of(id);
    if (!parse_special && (t == TokenType::kControl || t == TokenType::kUnknown)) continue;
    const std::string& special = s.vocab.tokens[static_cast<std::size_t>(id)];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      std::size_t off = f.offset;
      const std::size_t end = f.offset + f.length;
      while (off < end) {
        const std::size_t match = text.substr(0, end).find(special, off);
        if (match == std::string_view::npos) break;
        if (match > off) next.push_back({kNoToken, off, match - off});
        next.push_back({id, 0, 0});
        off = match + special.size();
      }
      if (off < end) next.push_back({kNoToken, off, end - off});
    }
    frags.swap(next);
  }
  return frags;
}

// ---- SPM ----------------------------------------------------------------------------------------

struct Symbol {
  int prev;
  int next;
  std::size_t start;  // byte offset into the session's text
  std::size_t n;
};

class SpmSession {
 public:
  SpmSession(const Tokenizer::State& s, std::string text) : s_(s), text_(std::move(text)) {}

  void tokenize(std::vector<std::int32_t>& out) {
    // One symbol per UTF-8 character. llama.cpp takes the length its lead byte announces; this takes
    // the validated length (the same on valid UTF-8), so an invalid byte before a U+2581 cannot swallow
    // part of it and decode stays lossless.
    int index = 0;
    for (std::size_t offs = 0; offs < text_.size();) {
      const std::size_t len = utf8_decode(text_, offs).len;
      symbols_.push_back({index - 1, offs + len == text_.size() ? -1 : index + 1, offs, len});
      offs += len;
      ++index;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);
    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[static_cast<std::size_t>(b.left)];
      Symbol& right = symbols_[static_cast<std::size_t>(b.right)];
      if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[static_cast<std::size_t>(right.next)].prev = b.left;
      try_add_bigram(left.prev, b.left);
      try_add_bigram(b.left, left.next);
    }
    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[static_cast<std::size_t>(i)].next) resegment(symbols_[static_cast<std::size_t>(i)], out);
  }

 private:
  struct Bigram {
    int left;
    int right;
    float score;
    std::size_t size;
  };
  struct Lower {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };

  std::string_view text_of(const Symbol& sym) const { return std::string_view(text_).substr(sym.start, sym.n); }

  void resegment(const Symbol& sym, std::vector<std::int32_t>& out) {
    const std::string_view text = text_of(sym);
    if (const std::int32_t id = s_.find(text); id != kNoToken) {
      out.push_back(id);
      return;
    }
    const auto p = rev_merge_.find(std::string(text));
    if (p == rev_merge_.end()) {
      for (const char c : text) {
        const std::int32_t b = s_.byte_tokens[static_cast<unsigned char>(c)];
        if (b != kNoToken) out.push_back(b);
      }
      return;
    }
    const auto [l, r] = p->second;
    resegment(symbols_[static_cast<std::size_t>(l)], out);
    resegment(symbols_[static_cast<std::size_t>(r)], out);
  }

  void try_add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const Symbol& l = symbols_[static_cast<std::size_t>(left)];
    const Symbol& r = symbols_[static_cast<std::size_t>(right)];
    const std::string text(std::string_view(text_).substr(l.start, l.n + r.n));
    const std::int32_t id = s_.find(text);
    if (id == kNoToken) return;
    queue_.push({left, right, s_.vocab.score_of(id), text.size()});
    rev_merge_[text] = {left, right};
  }

  const Tokenizer::State& s_;
  std::string text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, Lower> queue_;
  std::map<std::string, std::pair<int, int>> rev_merge_;
};

void encode_spm(const Tokenizer::State& s, std::string_view text, const std::vector<Fragment>& frags,
                std::vector<std::int32_t>& out) {
  bool prev_special = true;  // a space prefix before the first text
  for (const Fragment& f : frags) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    std::string escaped;
    if (s.vocab.add_space_prefix && prev_special) escaped = "\xE2\x96\x81";
    for (const char c : text.substr(f.offset, f.length)) {
      if (c == ' ') {
        escaped += "\xE2\x96\x81";
      } else {
        escaped += c;
      }
    }
    SpmSession(s, std::move(escaped)).tokenize(out);
    prev_special = false;
  }
}

// ---- byte-level BPE ----------------------------------------------------------------------------------

class BpeWord {
 public:
  BpeWord(const Tokenizer::State& s, std::string encoded) : s_(s), text_(std::move(encoded)) {}

  void tokenize(std::vector<std::int32_t>& out) {
    if (s_.vocab.ignore_merges) {
      if (const std::int32_t id = s_.find(text_); id != kNoToken) {
        out.push_back(id);
        return;
      }
    }
    int index = 0;
    for (std::size_t offs = 0; offs < text_.size();) {
      const std::size_t len = std::min(utf8_lead_len(static_cast<unsigned char>(text_[offs])), text_.size() - offs);
      symbols_.push_back({index - 1, offs + len == text_.size() ? -1 : index + 1, offs, len});
      offs += len;
      ++index;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) add_bigram(i - 1, i);
    merge();
    for (const Symbol& sym : symbols_) {
      if (sym.n == 0) continue;
      emit(std::string_view(text_).substr(sym.start, sym.n), out);
    }
  }

 private:
  struct Bigram {
    int left;
    int right;
    std::string text;
    int rank;
  };
  struct Later {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
    }
  };

  std::string_view text_of(int i) const {
    const Symbol& sym = symbols_[static_cast<std::size_t>(i)];
    return std::string_view(text_).substr(sym.start, sym.n);
  }

  void merge() {
    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[static_cast<std::size_t>(b.left)];
      Symbol& right = symbols_[static_cast<std::size_t>(b.right)];
      if (left.n == 0 || right.n == 0) continue;
      if (std::string(text_of(b.left)) + std::string(text_of(b.right)) != b.text) continue;  // outdated
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[static_cast<std::size_t>(right.next)].prev = b.left;
      add_bigram(left.prev, b.left);
      add_bigram(b.left, left.next);
    }
  }

  void add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const std::string_view l = text_of(left);
    const std::string_view r = text_of(right);
    const std::int32_t rank = s_.bpe_rank(l, r);
    if (rank < 0) return;
    queue_.push({left, right, std::string(l) + std::string(r), rank});
  }

  // A merged symbol that is not a token falls back to the tokens of its bytes.
  void emit(std::string_view sym, std::vector<std::int32_t>& out) const {
    if (const std::int32_t id = s_.find(sym); id != kNoToken) {
      out.push_back(id);
      return;
    }
    for (std::size_t i = 0; i < sym.size();) {
      const Utf8Char c = utf8_decode(sym, i);
      const int byte = gpt2_codepoint_to_byte(c.cp);
      if (byte >= 0 && s_.byte_tokens[byte] != kNoToken) out.push_back(s_.byte_tokens[byte]);
      i += c.len;
    }
  }

  const Tokenizer::State& s_;
  std::string text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, Later> queue_;
};

void encode_bpe(const Tokenizer::State& s, std::string_view text, const std::vector<Fragment>& frags,
                std::vector<std::int32_t>& out) {
  for (const Fragment& f : frags) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      continue;
    }
    for (const std::string_view word : pretokenize(s.vocab.pre, text.substr(f.offset, f.length))) {
      std::string encoded;
      encoded.reserve(word.size() * 2);
      for (const char c : word) encoded += gpt2_byte_to_text(static_cast<std::uint8_t>(c));
      BpeWord(s, std::move(encoded)).tokenize(out);
    }
  }
}

}  // namespace

std::int32_t Tokenizer::State::bpe_rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).append(" ").append(right);
  auto it = bpe_ranks.find(key);
  return it == bpe_ranks.end() ? -1 : it->second;
}

void encode_text(const Tokenizer::State& s, std::string_view text, bool parse_special, std::vector<std::int32_t>& out) {
  if (text.empty()) return;
  const std::vector<Fragment> frags = partition(s, text, parse_special);
  if (s.vocab.type == VocabType::kSpm) {
    encode_spm(s, text, frags, out);
  } else {
    encode_bpe(s, text, frags, out);
  }
}

}  // namespace chatscale::engine
