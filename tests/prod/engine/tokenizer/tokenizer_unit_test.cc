// Tokenizer behaviour on small hand-built vocabularies (SPM merges by score and byte fallback, BPE
// merges by rank, special tokens, BOS/EOS, decode, streaming), reading tokenizer keys from GGUF files
// (and the errors for bad ones), robustness on random bytes, and the same properties on the real
// Llama vocabularies when scripts/fetch-test-vocab has installed them.
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prod/engine/gguf/gguf.h"
#include "prod/engine/tokenizer/chat_template.h"
#include "prod/engine/tokenizer/port_adapter.h"
#include "prod/engine/tokenizer/tokenizer.h"
#include "prod/engine/tokenizer/unicode.h"

namespace chatscale::engine {
namespace {

using Ids = std::vector<std::int32_t>;
const std::string kSp = "\xE2\x96\x81";  // U+2581

// <unk> <s> </s> <0x00>..<0xFF> then scored pieces.
Vocab spm_vocab() {
  Vocab v;
  EXPECT_TRUE(apply_vocab_defaults(v, VocabType::kSpm, "").is_ok());
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.token_types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  v.scores = {0, 0, 0};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    v.token_types.push_back(TokenType::kByte);
    v.scores.push_back(0);
  }
  const std::vector<std::pair<std::string, float>> pieces = {
      {kSp, -1}, {"h", -2}, {"e", -2}, {"l", -2}, {"o", -2}, {kSp + "h", -3}, {"ll", -4}, {"lo", -3.5f},
      {kSp + "he", -5}, {"llo", -6}, {kSp + "hello", -7}, {"\xC3\xA9", -2}};
  for (const auto& [t, s] : pieces) {
    v.tokens.push_back(t);
    v.token_types.push_back(TokenType::kNormal);
    v.scores.push_back(s);
  }
  return v;
}

// The 256 GPT-2 byte tokens, a few merges, Llama-3 style specials.
Vocab bpe_vocab() {
  Vocab v;
  EXPECT_TRUE(apply_vocab_defaults(v, VocabType::kBpe, "llama-bpe").is_ok());
  for (int b = 0; b < 256; ++b) v.tokens.push_back(gpt2_byte_to_text(static_cast<std::uint8_t>(b)));
  for (const char* t : {"he", "ll", "hell", "hello"}) v.tokens.push_back(t);
  v.merges = {"h e", "l l", "he ll", "hell o"};
  v.token_types.assign(v.tokens.size(), TokenType::kNormal);
  for (const char* t : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}) {
    v.tokens.push_back(t);
    v.token_types.push_back(TokenType::kControl);
  }
  v.bos = static_cast<std::int32_t>(v.tokens.size()) - 3;
  v.eos = v.bos + 1;
  return v;
}

std::int32_t id_of(const Tokenizer& t, const std::string& s) {
  const std::int32_t id = t.find_token(s);
  EXPECT_NE(id, kNoToken) << s;
  return id;
}

std::string pieces_of(const Tokenizer& t, const Ids& ids) {
  std::string s;
  for (auto id : ids) s.append(t.token_to_piece(id));
  return s;
}

TEST(SpmTokenizer, MergesByScoreWithSpacePrefixAndBos) {
  auto t = Tokenizer::create(spm_vocab()).value();
  EXPECT_EQ(t.encode("hello", true, false), (Ids{1, id_of(t, kSp + "hello")}));
  EXPECT_EQ(t.encode("hello", false, false), (Ids{id_of(t, kSp + "hello")}));
  // "▁hel" + "lo": "lo" (score -3.5) merges before "ll" (-4), so no "▁hello".
  EXPECT_EQ(t.encode("hello hello", false, false),
            (Ids{id_of(t, kSp + "hello"), id_of(t, kSp + "hello")}));
  EXPECT_EQ(t.decode(t.encode("hello hello", false, false)), "hello hello");
  // As llama.cpp's detokenize: the prefix space is stripped from the first token only, so after a
  // leading BOS it stays (whether or not the BOS is removed).
  EXPECT_EQ(t.decode(t.encode("hello hello", true, false)), " hello hello");
  EXPECT_EQ(t.decode(t.encode("hello hello", true, false), {.remove_special = false}), " hello hello");
  EXPECT_EQ(t.encode("", true, false), (Ids{1}));
  EXPECT_EQ(t.encode("", false, false), Ids{});
}

TEST(SpmTokenizer, ByteFallbackAndDecode) {
  auto t = Tokenizer::create(spm_vocab()).value();
  const Ids ids = t.encode("h\xE4\xB8\xAD", false, false);  // 中 is not in the vocabulary
  EXPECT_EQ(ids, (Ids{id_of(t, kSp + "h"), id_of(t, "<0xE4>"), id_of(t, "<0xB8>"), id_of(t, "<0xAD>")}));
  EXPECT_EQ(t.decode(ids), "h\xE4\xB8\xAD");
  EXPECT_EQ(t.token_to_piece(id_of(t, "<0xE4>")), "\xE4");
  EXPECT_EQ(t.decode(t.encode("  hello", false, false)), "  hello");  // only the added space is stripped
}

TEST(SpmTokenizer, SpecialTokensOnlyWhenAsked) {
  auto t = Tokenizer::create(spm_vocab()).value();
  const Ids parsed = t.encode("hello</s>", false, true);
  EXPECT_EQ(parsed, (Ids{id_of(t, kSp + "hello"), 2}));
  const Ids plain = t.encode("hello</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(t.decode(parsed), "hello");
  EXPECT_EQ(t.decode(parsed, {.remove_special = true, .unparse_special = true}), "hello</s>");
  EXPECT_TRUE(t.is_eog(2));
  EXPECT_FALSE(t.is_eog(1));
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
}

TEST(BpeTokenizer, MergesByRankAndIgnoreMerges) {
  auto t = Tokenizer::create(bpe_vocab()).value();
  const std::int32_t hello = id_of(t, "hello");
  const std::int32_t space = id_of(t, gpt2_byte_to_text(' '));
  EXPECT_EQ(t.encode("hello hello", false, false), (Ids{hello, space, hello}));
  EXPECT_EQ(t.encode("hello", true, false), (Ids{t.bos(), hello}));
  EXPECT_EQ(t.encode("hel", false, false), (Ids{id_of(t, "he"), id_of(t, "l")}));
  EXPECT_EQ(t.decode(t.encode("hello hello\n\tx", true, false)), "hello hello\n\tx");
}

TEST(BpeTokenizer, SpecialTokensAndEog) {
  auto t = Tokenizer::create(bpe_vocab()).value();
  const std::int32_t eot = id_of(t, "<|eot_id|>");
  EXPECT_EQ(t.encode("hello<|eot_id|>", false, true), (Ids{id_of(t, "hello"), eot}));
  EXPECT_NE(t.encode("hello<|eot_id|>", false, false).back(), eot);
  EXPECT_TRUE(t.is_eog(eot));
  EXPECT_TRUE(t.is_eog(t.eos()));
  EXPECT_FALSE(t.is_eog(id_of(t, "hello")));
  EXPECT_EQ(t.eot(), eot);
  EXPECT_EQ(t.token_to_piece(eot, false), "");
  EXPECT_EQ(t.token_to_piece(eot, true), "<|eot_id|>");
  EXPECT_EQ(t.token_to_piece(-1), "");
  EXPECT_EQ(t.token_to_piece(t.vocab_size()), "");
}

TEST(BpeTokenizer, StreamingDecoderEmitsWholeCharacters) {
  auto t = Tokenizer::create(bpe_vocab()).value();
  const std::string text = "h\xF0\x9F\xA6\x99!\xC3\xA9";  // h 🦙 ! é, the multi-byte ones as byte tokens
  const Ids ids = t.encode(text, false, false);
  StreamingDecoder d(t);
  std::vector<std::string> chunks;
  for (auto id : ids) chunks.push_back(d.push(id));
  chunks.push_back(d.finish());
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_EQ(utf8_complete_prefix(c), c.size()) << "a chunk ends inside a character";
    joined += c;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(chunks[1], "");  // first byte of the emoji held back
  StreamingDecoder partial(t);
  EXPECT_EQ(partial.push(id_of(t, gpt2_byte_to_text(0xF0))), "");
  EXPECT_EQ(partial.finish(), "\xF0");
}

TEST(Tokenizers, RandomBytesRoundTripWithoutCrash) {
  auto spm = Tokenizer::create(spm_vocab()).value();
  auto bpe = Tokenizer::create(bpe_vocab()).value();
  Vocab gpt2 = bpe_vocab();
  ASSERT_TRUE(apply_vocab_defaults(gpt2, VocabType::kBpe, "gpt-2").is_ok());
  auto g = Tokenizer::create(gpt2).value();
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(iter % 2 == 0 ? rng() % 256 : " \n\thelo\xC3\xA9'1"[rng() % 12]);
    EXPECT_EQ(pieces_of(bpe, bpe.encode(s, false, true)), s);
    EXPECT_EQ(pieces_of(g, g.encode(s, false, false)), s);
    const std::string sp = pieces_of(spm, spm.encode(s, false, false));
    if (!s.empty()) {
      EXPECT_EQ(sp, " " + s);
    }
  }
}

TEST(TokenizerCreate, RejectsInconsistentVocabularies) {
  Vocab v = spm_vocab();
  v.scores.pop_back();
  EXPECT_FALSE(Tokenizer::create(v).is_ok());
  v = spm_vocab();
  v.bos = 1 << 20;
  EXPECT_FALSE(Tokenizer::create(v).is_ok());
  v = bpe_vocab();
  v.pre = PreTokenizer::kNone;
  EXPECT_FALSE(Tokenizer::create(v).is_ok());
  Vocab w;
  auto s = apply_vocab_defaults(w, VocabType::kBpe, "qwen2");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("supported: llama3"), std::string::npos) << s.message();
}

TEST(TokenizerPort, CountsTokensWithoutSpecials) {
  TokenizerPortAdapter port(Tokenizer::create(bpe_vocab()).value());
  const chatscale::Tokenizer& p = port;
  EXPECT_EQ(p.count_tokens("hello hello"), 3);
  EXPECT_EQ(p.count_tokens(""), 0);
}

// ---- GGUF ------------------------------------------------------------------------------------------

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

void add_vocab(GgufWriter& w, const Vocab& v, std::string_view model, std::string_view pre) {
  w.add_string("tokenizer.ggml.model", model);
  if (!pre.empty()) w.add_string("tokenizer.ggml.pre", pre);
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.add_f32_array("tokenizer.ggml.scores", v.scores);
  std::vector<std::int32_t> types;
  for (auto t : v.token_types) types.push_back(static_cast<std::int32_t>(t));
  w.add_i32_array("tokenizer.ggml.token_type", types);
  if (!v.merges.empty()) w.add_string_array("tokenizer.ggml.merges", v.merges);
}

TEST(VocabFromGguf, ReadsKeysAndDefaults) {
  TempDir dir;
  const std::string path = (dir.path / "bpe.gguf").string();
  GgufWriter w;
  const Vocab src = bpe_vocab();
  add_vocab(w, src, "gpt2", "llama-bpe");
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(src.bos));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(src.eos));
  w.add_bool("tokenizer.ggml.add_bos_token", false);
  w.add_string("tokenizer.chat_template", "{{ '<|start_header_id|>' }}");
  ASSERT_TRUE(w.write(path).is_ok());
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.is_ok());
  auto v = vocab_from_gguf(*f);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_EQ(v->type, VocabType::kBpe);
  EXPECT_EQ(v->pre, PreTokenizer::kLlama3);
  EXPECT_EQ(v->tokens, src.tokens);
  EXPECT_EQ(v->merges, src.merges);
  EXPECT_EQ(v->bos, src.bos);
  EXPECT_FALSE(v->add_bos);
  EXPECT_TRUE(v->ignore_merges);
  auto t = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->encode("hello", true, false), (Ids{t->find_token("hello")}));
  EXPECT_EQ(*detect_chat_format(*t), ChatFormat::kLlama3);
}

TEST(VocabFromGguf, SpmDefaultsAndFlags) {
  TempDir dir;
  const std::string path = (dir.path / "spm.gguf").string();
  GgufWriter w;
  add_vocab(w, spm_vocab(), "llama", "default");
  w.add_bool("tokenizer.ggml.add_space_prefix", false);
  w.add_bool("tokenizer.ggml.add_eos_token", true);
  ASSERT_TRUE(w.write(path).is_ok());
  auto t = Tokenizer::open(path);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->bos(), 1);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_EQ(t->encode("hello", true, false), (Ids{1, t->find_token("h"), t->find_token("e"), t->find_token("llo"), 2}));
}

TEST(VocabFromGguf, ErrorsNameTheKey) {
  TempDir dir;
  const auto check = [&](const std::string& name, std::string_view model, std::string_view pre, const std::string& want) {
    const std::string path = (dir.path / name).string();
    GgufWriter w;
    Vocab v = bpe_vocab();
    if (name == "nomerges.gguf") v.merges.clear();
    add_vocab(w, v, model, pre);
    if (name == "badbos.gguf") w.add_u32("tokenizer.ggml.bos_token_id", 999999);
    ASSERT_TRUE(w.write(path).is_ok());
    auto t = Tokenizer::open(path);
    ASSERT_FALSE(t.is_ok()) << name;
    EXPECT_NE(t.status().message().find(want), std::string::npos) << t.status().message();
    EXPECT_NE(t.status().message().find(path), std::string::npos) << t.status().message();
  };
  check("pre.gguf", "gpt2", "qwen2", "tokenizer.ggml.pre: unsupported pre-tokenizer 'qwen2' (supported: llama3");
  check("default.gguf", "gpt2", "default", "tokenizer.ggml.pre");
  check("model.gguf", "bert", "", "unsupported tokenizer 'bert' (supported: llama, gpt2)");
  check("nomerges.gguf", "gpt2", "gpt-2", "tokenizer.ggml.merges");
  check("badbos.gguf", "gpt2", "gpt-2", "tokenizer.ggml.bos_token_id: token id 999999 is out of range");
}

// ---- real vocabularies (skipped until scripts/fetch-test-vocab ran) --------------------------------

std::filesystem::path real_vocab(const std::string& name) {
  const char* env = std::getenv("CHATSCALE_TEST_VOCAB");
  const std::filesystem::path dir = env != nullptr && *env != '\0'
                                        ? std::filesystem::path(env)
                                        : std::filesystem::path(CHATSCALE_SOURCE_DIR) / ".cache" / "test-vocab";
  return dir / ("ggml-vocab-" + name + ".gguf");
}

#define REQUIRE_VOCAB(var, name)                                                                       \
  const auto var##_path = real_vocab(name);                                                            \
  if (!std::filesystem::exists(var##_path))                                                            \
    GTEST_SKIP() << var##_path << " absent: run scripts/fetch-test-vocab (or set CHATSCALE_TEST_VOCAB)"; \
  auto var##_r = Tokenizer::open(var##_path.string());                                                 \
  ASSERT_TRUE(var##_r.is_ok()) << var##_r.status().message();                                         \
  const Tokenizer& var = *var##_r

TEST(RealVocab, Llama3ChatPromptAndSpecials) {
  REQUIRE_VOCAB(t, "llama-bpe");
  EXPECT_EQ(t.vocab_size(), 128256);
  EXPECT_EQ(t.bos(), 128000);
  const std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "Hi"}};
  const std::string prompt = render_chat(*detect_chat_format(t), m).value();
  const Ids ids = t.encode(prompt, false, true);
  ASSERT_GE(ids.size(), 8u);
  EXPECT_EQ(ids.front(), 128000);                                       // <|begin_of_text|>
  EXPECT_EQ(ids[1], t.find_token("<|start_header_id|>"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), t.find_token("<|eot_id|>")), 2);
  EXPECT_EQ(t.decode(ids, {.remove_special = false, .unparse_special = true}), prompt);
  EXPECT_TRUE(t.is_eog(t.find_token("<|eot_id|>")));
  EXPECT_TRUE(t.is_eog(t.find_token("<|end_of_text|>")));
  EXPECT_EQ(t.encode("Hi", true, false), (Ids{128000, t.find_token("Hi")}));
  StreamingDecoder d(t);
  std::string streamed;
  for (auto id : t.encode("llama \xF0\x9F\xA6\x99 ok", false, false)) {
    const std::string c = d.push(id);
    EXPECT_EQ(utf8_complete_prefix(c), c.size());
    streamed += c;
  }
  EXPECT_EQ(streamed + d.finish(), "llama \xF0\x9F\xA6\x99 ok");
}

TEST(RealVocab, LlamaSpmBosAndRandomRoundTrip) {
  REQUIRE_VOCAB(t, "llama-spm");
  EXPECT_EQ(t.encode("Hello", true, false).front(), 1);
  EXPECT_EQ(t.decode(t.encode(" Hello  world\n", false, false)), " Hello  world\n");
  EXPECT_EQ(t.decode(t.encode("Hello", true, false)), " Hello");  // llama.cpp keeps the space after BOS
  std::mt19937 rng(11);
  for (int iter = 0; iter < 100; ++iter) {
    std::string s(1 + rng() % 30, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    EXPECT_EQ(t.decode(t.encode(s, false, false)), s);
  }
}

TEST(RealVocab, LlamaBpeRandomRoundTrip) {
  REQUIRE_VOCAB(t, "llama-bpe");
  std::mt19937 rng(13);
  for (int iter = 0; iter < 100; ++iter) {
    std::string s(1 + rng() % 30, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    std::string joined;
    for (auto id : t.encode(s, false, false)) joined.append(t.token_to_piece(id));
    EXPECT_EQ(joined, s);
  }
}

}  // namespace
}  // namespace chatscale::engine
