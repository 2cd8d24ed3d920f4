#include "prod/engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "prod/engine/gguf/gguf.h"
#include "prod/engine/tokenizer/tokenizer_state.h"
#include "prod/engine/tokenizer/unicode.h"

namespace chatscale::engine {

namespace {

// Token texts llama.cpp treats as end of generation when the vocabulary has them.
constexpr std::array<std::string_view, 8> kEogTexts = {"<|eot_id|>",    "<|eom_id|>", "<|im_end|>", "<|end|>",
                                                       "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>"};

Status validate(const Vocab& v) {
  const std::size_t n = v.tokens.size();
  if (n == 0) return invalid_argument("tokenizer: empty vocabulary");
  if (n > static_cast<std::size_t>(INT32_MAX)) return invalid_argument("tokenizer: vocabulary too large");
  if (!v.scores.empty() && v.scores.size() != n)
    return invalid_argument("tokenizer: " + std::to_string(v.scores.size()) + " scores for " + std::to_string(n) + " tokens");
  if (!v.token_types.empty() && v.token_types.size() != n)
    return invalid_argument("tokenizer: " + std::to_string(v.token_types.size()) + " token types for " +
                            std::to_string(n) + " tokens");
  if (v.type == VocabType::kBpe && v.pre == PreTokenizer::kNone)
    return invalid_argument("tokenizer: a byte-level BPE vocabulary needs a pre-tokenizer");
  for (const std::int32_t id : {v.bos, v.eos, v.eot, v.eom, v.unk, v.pad}) {
    if (id != kNoToken && (id < 0 || static_cast<std::size_t>(id) >= n))
      return invalid_argument("tokenizer: special token id " + std::to_string(id) + " out of range");
  }
  if (v.add_bos && v.bos == kNoToken) return invalid_argument("tokenizer: add_bos without a BOS token");
  if (v.add_eos && v.eos == kNoToken) return invalid_argument("tokenizer: add_eos without an EOS token");
  return Status();
}

std::string spm_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 3) == "\xE2\x96\x81") {
      out += ' ';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string bpe_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Char c = utf8_decode(text, i);
    const int byte = c.cp == kReplacementChar ? -1 : gpt2_codepoint_to_byte(c.cp);
    if (byte >= 0) {
      out += static_cast<char>(byte);
    } else {
      out.append(text.substr(i, c.len));  // not a GPT-2 byte character: keep it as it is
    }
    i += c.len;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xAB>" -> 0xAB, or -1.
int byte_token_value(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  const int hi = hex_digit(t[3]);
  const int lo = hex_digit(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string make_piece(const Vocab& v, std::int32_t id) {
  const std::string& text = v.tokens[static_cast<std::size_t>(id)];
  switch (v.type_of(id)) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUserDefined: return text;
    case TokenType::kNormal: return v.type == VocabType::kSpm ? spm_unescape(text) : bpe_unescape(text);
    case TokenType::kByte: {
      const int b = byte_token_value(text);
      if (b >= 0) return std::string(1, static_cast<char>(b));
      return v.type == VocabType::kSpm ? spm_unescape(text) : bpe_unescape(text);
    }
    case TokenType::kUndefined:
    case TokenType::kUnused: break;
  }
  return {};
}

void build_indexes(Tokenizer::State& s) {
  const Vocab& v = s.vocab;
  const auto n = static_cast<std::int32_t>(v.tokens.size());
  s.token_to_id.reserve(v.tokens.size());
  for (std::int32_t i = 0; i < n; ++i) {
    const std::string& t = v.tokens[static_cast<std::size_t>(i)];
    s.token_to_id[t.empty() ? "[EMPTY_" + std::to_string(i) + "]" : t] = i;
  }
  s.bpe_ranks.reserve(v.merges.size());
  for (std::size_t r = 0; r < v.merges.size(); ++r) {
    const std::string& m = v.merges[r];
    const std::size_t pos = m.find(' ', 1);
    std::string key = pos == std::string::npos ? std::string(" ") : m;  // llama.cpp: ("", "") when no space
    s.bpe_ranks.emplace(std::move(key), static_cast<std::int32_t>(r));
  }
  for (std::int32_t i = 0; i < n; ++i) {
    const TokenType t = v.type_of(i);
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) s.special_tokens.push_back(i);
  }
  std::stable_sort(s.special_tokens.begin(), s.special_tokens.end(), [&](std::int32_t a, std::int32_t b) {
    return v.tokens[static_cast<std::size_t>(a)].size() > v.tokens[static_cast<std::size_t>(b)].size();
  });
  for (int b = 0; b < 256; ++b) {
    std::int32_t id = kNoToken;
    if (v.type == VocabType::kSpm) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const std::string name = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
      id = s.find(name);
      if (id == kNoToken) id = s.find(std::string(1, static_cast<char>(b)));
      if (id == kNoToken) id = v.unk;
    } else {
      id = s.find(gpt2_byte_to_text(static_cast<std::uint8_t>(b)));
    }
    s.byte_tokens[b] = id;
  }
  s.pieces.reserve(v.tokens.size());
  for (std::int32_t i = 0; i < n; ++i) s.pieces.push_back(make_piece(v, i));
  for (const std::int32_t id : {v.eos, v.eot, v.eom})
    if (id != kNoToken) s.eog.insert(id);
  for (const std::string_view t : kEogTexts)
    if (const std::int32_t id = s.find(t); id != kNoToken) s.eog.insert(id);
}

// llama.cpp's clean_spaces passes: " ?" " !" " ." " ," lose the space, " ' " loses both, " 's" " 'm"
// " 're" " 've" lose the space.
std::string clean_spaces(const std::string& t) {
  std::string a;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char x = t[i];
    if (i > 0 && t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a += x;
  }
  std::string b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    if (i > 0 && x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      b.pop_back();
      b += x;
      a[++i] = '\0';  // the next space goes too (llama.cpp marks it in place, later passes see the mark)
      continue;
    }
    b += x;
  }
  std::string c;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (i > 0 && b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const bool two = i + 2 < b.size();
      if (x1 == 's' || x1 == 'm' || (two && ((x1 == 'r' && b[i + 2] == 'e') || (x1 == 'v' && b[i + 2] == 'e'))))
        c.pop_back();
    }
    c += x;
  }
  return c;
}

}  // namespace

Result<Tokenizer> Tokenizer::create(Vocab vocab) {
  CS_RETURN_IF_ERROR(validate(vocab));
  auto s = std::make_shared<State>();
  s->vocab = std::move(vocab);
  build_indexes(*s);
  return Tokenizer(std::move(s));
}

Result<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  CS_ASSIGN_OR_RETURN(Vocab v, vocab_from_gguf(file));
  Result<Tokenizer> t = create(std::move(v));
  if (!t.is_ok()) return invalid_argument(file.path() + ": " + t.status().message());
  return t;
}

Result<Tokenizer> Tokenizer::open(const std::string& path) {
  CS_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(path));
  return from_gguf(f);
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<std::int32_t> out;
  const Vocab& v = s_->vocab;
  if (add_special && v.add_bos) out.push_back(v.bos);
  encode_text(*s_, text, parse_special, out);
  if (add_special && v.add_eos) out.push_back(v.eos);
  return out;
}

std::string_view Tokenizer::token_to_piece(std::int32_t id, bool special) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (!special) {
    const TokenType t = s_->vocab.type_of(id);
    if (t == TokenType::kControl || t == TokenType::kUnknown) return {};
  }
  return s_->pieces[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, DecodeOptions o) const {
  const Vocab& v = s_->vocab;
  bool remove_space = v.add_space_prefix;
  if (o.remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (o.remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) ids = ids.first(ids.size() - 1);
  std::string out;
  for (const std::int32_t id : ids) {
    std::string_view piece = token_to_piece(id, o.unparse_special);
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    remove_space = false;
    out.append(piece);
  }
  return v.clean_spaces ? clean_spaces(std::move(out)) : out;
}

std::int32_t Tokenizer::bos() const { return s_->vocab.bos; }
std::int32_t Tokenizer::eos() const { return s_->vocab.eos; }
std::int32_t Tokenizer::eot() const { return s_->vocab.eot != kNoToken ? s_->vocab.eot : s_->find("<|eot_id|>"); }
bool Tokenizer::is_eog(std::int32_t id) const { return s_->eog.count(id) != 0; }
bool Tokenizer::is_control(std::int32_t id) const {
  return id >= 0 && id < vocab_size() && s_->vocab.type_of(id) == TokenType::kControl;
}
std::int32_t Tokenizer::vocab_size() const { return static_cast<std::int32_t>(s_->vocab.tokens.size()); }
std::int32_t Tokenizer::find_token(std::string_view text) const { return s_->find(text); }
const Vocab& Tokenizer::vocab() const { return s_->vocab; }

std::string StreamingDecoder::push(std::int32_t id) {
  std::string_view piece = tokenizer_->token_to_piece(id, special_);
  if (strip_ && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
  strip_ = false;
  pending_.append(piece);
  const std::size_t n = utf8_complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamingDecoder::finish() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace chatscale::engine
