// Seeded fuzzing of the GGUF reader: thousands of byte flips, overwrites with boundary values and
// truncations of a valid file; every one must give an error or a valid file whose tensor views lie
// inside the mapping (never a crash; run under ASan in CI).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "prod/engine/gguf/gguf.h"

namespace chatscale::engine {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> valid_file(const std::string& path) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_f32("eps", 1e-5f);
  const std::vector<std::string> toks{"a", "b", "cd", "<s>"};
  w.add_string_array("tokenizer.ggml.tokens", toks);
  const std::vector<std::int32_t> types{1, 1, 1, 3};
  w.add_i32_array("tokenizer.ggml.token_type", types);
  w.add_i32_array_array("nested", {{1}, {2, 3}});
  w.add_tensor("a", DType::kF32, {4, 2}, std::vector<std::uint8_t>(32, 1));
  w.add_tensor("q", DType::kQ8_0, {32, 1}, std::vector<std::uint8_t>(34, 2));
  w.add_tensor("h", DType::kBF16, {3}, std::vector<std::uint8_t>(6, 3));
  EXPECT_TRUE(w.write(path).is_ok());
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GgufFuzz, MutationsAndTruncationsNeverCrash) {
  const fs::path dir = fs::temp_directory_path() / ("gguf_fuzz_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "f.gguf").string();
  const std::vector<std::uint8_t> base = valid_file((dir / "base.gguf").string());
  ASSERT_FALSE(base.empty());
  std::mt19937_64 rng(12345);
  const std::uint64_t boundary[] = {0, 1, 0x7f, 0xff, 0xffff, 0xffffffffull, 0x7fffffffffffffffull, ~0ull, 1ull << 32, 31, 33};
  int ok = 0, errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<std::uint8_t> b = base;
    const int kind = static_cast<int>(rng() % 4);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % b.size();
      if (kind == 0) {
        b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      } else if (kind == 1) {
        b[at] = static_cast<std::uint8_t>(rng());
      } else if (kind == 2 && at + 8 <= b.size()) {
        const std::uint64_t v = boundary[rng() % std::size(boundary)];
        std::memcpy(b.data() + at, &v, (rng() % 2) ? 8 : 4);
      }
    }
    if (kind == 3 || rng() % 8 == 0) b.resize(rng() % b.size());
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
    auto f = GgufFile::open(path);
    if (!f.is_ok()) {
      ++errors;
      EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    ++ok;
    // Touch every byte of every tensor and every string: ASan flags any view outside the mapping.
    std::uint64_t sum = 0;
    for (const GgufTensorInfo& t : f->tensors()) {
      const auto* p = static_cast<const std::uint8_t*>(t.view.data);
      for (std::int64_t i = 0; i < t.view.bytes(); ++i) sum += p[i];
    }
    for (const GgufKv& kv : f->metadata()) {
      for (std::string_view s : kv.value.strings) sum += s.size() ? static_cast<std::uint8_t>(s.back()) : 0;
      (void)f->i32_array(kv.key);
      (void)f->f32_array(kv.key);
    }
    EXPECT_GE(sum, 0u);
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(ok + errors, 2999);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace chatscale::engine
