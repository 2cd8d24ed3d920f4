// Byte-level BPE vocabulary builder. See bpe_vocab.h.
#include "prod/engine/model/bpe_vocab.h"

#include <algorithm>
#include <map>
#include <set>

namespace chatscale::engine {

namespace {

constexpr std::string_view kSample =
    "The quick brown fox jumps over the lazy dog. A chat service answers questions from many people at "
    "the same time, and each answer is written one token after another. When you ask a question, the "
    "model reads the whole conversation, then predicts the next word, and the next, until the answer is "
    "complete. The service keeps the conversation in a database, so that you can come back to it later "
    "and continue where you left off.\n"
    "Good morning! How are you today? I am fine, thank you. What would you like to talk about? Tell me "
    "about the weather, the news, or the book you are reading. Here is a short story: Once upon a time, "
    "there was a little town by the river. The people of the town worked in the fields during the day "
    "and told stories in the evening. Children played in the streets, and the old men sat in the sun.\n"
    "In computer science, a program is a set of instructions that a computer follows. Programs are "
    "written in programming languages such as C, C++, Python and Rust. The compiler turns the source "
    "code into machine code. A good program is correct, fast, and easy to read. Tests check that the "
    "program does what it should do, and they run every time the code changes.\n"
    "Language models learn from text. They split the text into tokens, which are words or pieces of "
    "words, and learn which tokens tend to follow which. A larger model with more parameters can learn "
    "more, but it needs more memory and more time to answer. The attention layers let each token look "
    "at the tokens before it; the feed forward layers transform each token on its own.\n"
    "Question: What is the capital of France? Answer: The capital of France is Paris. Question: How "
    "many days are there in a week? Answer: There are seven days in a week. Question: What is two plus "
    "two? Answer: Two plus two is four. Question: Why is the sky blue? Answer: Sunlight is scattered by "
    "the air, and blue light is scattered more than red light, so the sky looks blue.\n"
    "Please write a short poem about the sea. The sea is wide, the sea is deep, it sings the sailors "
    "off to sleep. The waves come in, the waves go out, and that is what the sea is about.\n"
    "Numbers: 1, 2, 3, 10, 20, 100, 2024, 3.14, 42. Dates: Monday, Tuesday, Wednesday, Thursday, "
    "Friday, Saturday, Sunday; January, February, March, April, May, June, July, August, September, "
    "October, November, December. Colors: red, green, blue, yellow, black, white, orange, purple.\n"
    "Thank you for your help. You are welcome; I am happy to help. Is there anything else I can do for "
    "you? No, that is all for now. Have a nice day, and see you soon.\n";

constexpr std::string_view kLlama3Template =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content "
    "}}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}";

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

bool printable_byte(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

enum class CharClass { kLetter, kDigit, kSpace, kOther };
CharClass class_of(char c) {
  const auto u = static_cast<unsigned char>(c);
  if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80) return CharClass::kLetter;
  if (u >= '0' && u <= '9') return CharClass::kDigit;
  if (u == ' ' || u == '\n' || u == '\t' || u == '\r') return CharClass::kSpace;
  return CharClass::kOther;
}

// A simplified GPT-2 pre-tokenizer (ASCII classes): " word", " 123" (at most 3 digits), " ...", spaces.
std::vector<std::string> pre_tokenize(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const std::size_t start = i;
    if (class_of(text[i]) == CharClass::kSpace && !(text[i] == ' ' && i + 1 < n && class_of(text[i + 1]) != CharClass::kSpace)) {
      while (i < n && class_of(text[i]) == CharClass::kSpace) ++i;
      if (i < n && i - start > 1 && text[i - 1] == ' ') --i;  // the last space starts the next word
      words.emplace_back(text.substr(start, i - start));
      continue;
    }
    if (text[i] == ' ') ++i;  // a word's leading space
    const CharClass k = class_of(text[i]);
    std::size_t len = 0;
    while (i < n && class_of(text[i]) == k && !(k == CharClass::kDigit && len == 3)) {
      ++i;
      ++len;
    }
    words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::string_view llama3_chat_template() { return kLlama3Template; }
std::string_view bpe_training_text() { return kSample; }

std::vector<std::uint8_t> gpt2_byte_order() {
  std::vector<std::uint8_t> order;
  for (int b = 0; b < 256; ++b)
    if (printable_byte(b)) order.push_back(static_cast<std::uint8_t>(b));
  for (int b = 0; b < 256; ++b)
    if (!printable_byte(b)) order.push_back(static_cast<std::uint8_t>(b));
  return order;
}

std::string gpt2_byte_token(std::uint8_t b) {
  if (printable_byte(b)) return utf8(b);
  int n = 0;
  for (int x = 0; x < b; ++x)
    if (!printable_byte(x)) ++n;
  return utf8(256 + static_cast<std::uint32_t>(n));
}

Result<BpeVocab> build_bpe_vocab(std::int64_t vocab) {
  static const char* kSpecials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                    "<|eot_id|>"};
  const std::int64_t n_special = 5;
  if (vocab < 256 + n_special) {
    return invalid_argument("vocab " + std::to_string(vocab) + " is too small for a byte-level BPE vocabulary (at least 261)");
  }
  BpeVocab v;
  std::set<std::string> known;
  for (std::uint8_t b : gpt2_byte_order()) {
    v.tokens.push_back(gpt2_byte_token(b));
    known.insert(v.tokens.back());
  }
  // Word frequencies, each word as a list of byte-mapped symbols.
  std::map<std::vector<std::string>, std::int64_t> words;
  for (const std::string& w : pre_tokenize(kSample)) {
    std::vector<std::string> syms;
    for (char c : w) syms.push_back(gpt2_byte_token(static_cast<std::uint8_t>(c)));
    ++words[syms];
  }
  const std::int64_t budget = vocab - n_special;
  while (static_cast<std::int64_t>(v.tokens.size()) < budget) {
    std::map<std::pair<std::string, std::string>, std::int64_t> pairs;
    for (const auto& [syms, count] : words)
      for (std::size_t i = 0; i + 1 < syms.size(); ++i) pairs[{syms[i], syms[i + 1]}] += count;
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (best == pairs.end() || it->second > best->second) best = it;  // ties: first in order
    if (best == pairs.end() || best->second < 2) break;
    const auto [left, right] = best->first;
    const std::string merged = left + right;
    v.merges.push_back(left + " " + right);
    if (known.insert(merged).second) v.tokens.push_back(merged);
    std::map<std::vector<std::string>, std::int64_t> next;
    for (const auto& [syms, count] : words) {
      std::vector<std::string> out;
      for (std::size_t i = 0; i < syms.size(); ++i) {
        if (i + 1 < syms.size() && syms[i] == left && syms[i + 1] == right) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(syms[i]);
        }
      }
      next[out] += count;
    }
    words = std::move(next);
  }
  v.token_type.assign(v.tokens.size(), 1);
  const auto base = static_cast<std::int32_t>(v.tokens.size());
  for (const char* s : kSpecials) {
    v.tokens.emplace_back(s);
    v.token_type.push_back(3);
  }
  v.bos_id = base;
  v.end_of_text_id = base + 1;
  v.eot_id = base + 4;
  v.eos_id = v.eot_id;
  for (std::int64_t n = 0; static_cast<std::int64_t>(v.tokens.size()) < vocab; ++n) {
    v.tokens.push_back("<|reserved_special_token_" + std::to_string(n) + "|>");
    v.token_type.push_back(3);
  }
  return v;
}

void add_bpe_tokenizer(GgufWriter& w, const BpeVocab& v) {
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "llama-bpe");
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  w.add_i32_array("tokenizer.ggml.token_type", v.token_type);
  w.add_string_array("tokenizer.ggml.merges", v.merges);
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(v.bos_id));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(v.eos_id));
  w.add_u32("tokenizer.ggml.eot_token_id", static_cast<std::uint32_t>(v.eot_id));
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.add_string("tokenizer.chat_template", llama3_chat_template());
}

}  // namespace chatscale::engine
