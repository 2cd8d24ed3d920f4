// Verification against llama.cpp's reference vocabularies (models/ggml-vocab-*.gguf with .inp/.out
// test vectors, installed by scripts/fetch-test-vocab from the npm package node-llama-cpp): every
// text must encode (add_special = false, parse_special = false, as llama.cpp's test-tokenizer-0 does)
// to exactly the expected ids, and decoding must give the text back (byte-exact for the pieces; with
// llama.cpp's clean-up of spaces for vocabularies that ask for it).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {
namespace {

std::filesystem::path vocab_dir() {
  if (const char* env = std::getenv("CHATSCALE_TEST_VOCAB"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(CHATSCALE_SOURCE_DIR) / ".cache" / "test-vocab";
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<std::int32_t> ids;
};

// llama.cpp's read_tests: texts separated by "\n__ggml_vocab_test__\n", one line of ids per text.
std::vector<Case> read_cases(const std::filesystem::path& gguf) {
  const std::string raw = read_all(gguf.string() + ".inp");
  std::vector<std::string> texts;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (std::size_t pos = 0; pos < raw.size();) {
    const std::size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::ifstream out(gguf.string() + ".out");
  std::vector<Case> cases;
  std::string line;
  for (std::size_t i = 0; i < texts.size() && std::getline(out, line); ++i) {
    Case c{texts[i], {}};
    std::istringstream ls(line);
    for (std::int32_t id; ls >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), texts.size()) << gguf << ": .inp and .out disagree on the number of tests";
  return cases;
}

std::string join(const Tokenizer& t, const std::vector<std::int32_t>& ids) {
  std::string s;
  for (auto id : ids) s.append(t.token_to_piece(id, true));
  return s;
}

// Runs every pair of one vocabulary and prints how many pass.
void check_vocab(const std::string& name, bool expect_present = true) {
  const auto path = vocab_dir() / ("ggml-vocab-" + name + ".gguf");
  if (!std::filesystem::exists(path)) {
    if (!std::filesystem::exists(vocab_dir()))
      GTEST_SKIP() << "no reference vocabularies in " << vocab_dir()
                   << " (run scripts/fetch-test-vocab, or set CHATSCALE_TEST_VOCAB)";
    if (expect_present) FAIL() << path << " missing from the installed vocabularies";
    GTEST_SKIP() << path << " not shipped";
  }
  auto tok = Tokenizer::open(path.string());
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  const auto cases = read_cases(path);
  ASSERT_FALSE(cases.empty());
  int passed = 0;
  for (const Case& c : cases) {
    const auto ids = tok->encode(c.text, false, false);
    EXPECT_EQ(ids, c.ids) << name << ": text '" << c.text << "'";
    // Pieces concatenate to the text (SPM: after the added prefix space).
    std::string pieces = join(*tok, ids);
    if (tok->vocab().add_space_prefix && !c.text.empty()) {
      ASSERT_FALSE(pieces.empty());
      EXPECT_EQ(pieces.front(), ' ');
      pieces.erase(0, 1);
    }
    EXPECT_EQ(pieces, c.text) << name << ": pieces of '" << c.text << "'";
    // decode as llama.cpp's detokenize (leading space stripped, spaces cleaned when the vocab says so).
    const std::string decoded = tok->decode(ids);
    if (!tok->vocab().clean_spaces) {
      EXPECT_EQ(decoded, c.text) << name << ": decode of '" << c.text << "'";
    }
    if (ids == c.ids && pieces == c.text) ++passed;
  }
  std::printf("[ vocab    ] %s: %d/%zu pairs pass\n", name.c_str(), passed, cases.size());
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
}

TEST(VocabFiles, LlamaSpm) { check_vocab("llama-spm"); }
TEST(VocabFiles, Phi3Spm) { check_vocab("phi-3"); }
TEST(VocabFiles, LlamaBpe) { check_vocab("llama-bpe"); }
TEST(VocabFiles, Gpt2) { check_vocab("gpt-2"); }
TEST(VocabFiles, Mpt) { check_vocab("mpt", false); }

}  // namespace
}  // namespace chatscale::engine
