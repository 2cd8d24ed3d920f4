// Invalid batches are InvalidArgument with a message naming the problem, and nothing is written: a
// valid slice in the same batch does not reach the cache and the logits buffer stays as it was.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "prod/engine/cpu/cpu_backend.h"
#include "tests/prod/engine/cpu/random_model.h"

namespace chatscale::engine {
namespace {

std::vector<float> snapshot(const CpuKvCache& c) {
  std::vector<float> out;
  const std::int64_t n = c.kv_heads() * c.head_dim();
  for (std::int64_t l = 0; l < c.layers(); ++l) {
    for (std::int64_t b = 0; b < c.num_blocks(); ++b) {
      for (std::int64_t s = 0; s < c.block_size(); ++s) {
        out.insert(out.end(), c.k(l, b, s), c.k(l, b, s) + n);
        out.insert(out.end(), c.v(l, b, s), c.v(l, b, s) + n);
      }
    }
  }
  return out;
}

struct Case {
  std::string name;
  std::vector<std::int32_t> tokens;
  std::int64_t start_pos;
  std::vector<std::int32_t> table;
  std::string expect;  // part of the message
};

TEST(CpuBackendInvalidBatchTest, RejectedWithNothingWritten) {
  const testing::RandomModel m = testing::make_random_model(testing::tiny_config(), DType::kF32, 8);
  auto be = CpuBackend::create(m.config, m.weights, {.threads = 2});
  ASSERT_TRUE(be.is_ok());
  auto cache = CpuKvCache::create(m.config, 40, 4);
  ASSERT_TRUE(cache.is_ok());
  const std::vector<std::int32_t> good_tokens = {1, 2, 3, 4, 5};
  const std::vector<std::int32_t> good_table = {0, 1};
  const std::vector<Case> cases = {
      {"token id >= vocab", {1, 256}, 0, {10}, "outside the vocabulary"},
      {"negative token id", {-1}, 0, {10}, "outside the vocabulary"},
      {"table too short", {1, 2, 3}, 6, {10, 11}, "covers 8 positions, 9 needed"},
      {"block id out of range", {1}, 0, {40}, "outside the cache"},
      {"past context length", {1, 2}, 127, std::vector<std::int32_t>(33, 0), "context length 128"},
      {"no tokens", {}, 0, {10}, "no tokens"},
      {"negative start", {1}, -1, {10}, "negative start_pos"},
      {"block shared with slice 0", {1}, 0, {1}, "also used by slice 0"},
      {"block twice in a table", {1, 2, 3, 4, 5}, 0, {12, 12}, "appears twice"},
  };
  for (const Case& c : cases) {
    const std::vector<float> before = snapshot(*cache);
    ForwardBatch b;
    b.seqs.push_back({.seq_id = 1, .tokens = good_tokens, .start_pos = 0, .block_table = good_table});
    b.seqs.push_back({.seq_id = 2, .tokens = c.tokens, .start_pos = c.start_pos, .block_table = c.table});
    std::vector<float> logits(2 * 256, 7.0f);
    const Status s = be->forward(b, *cache, logits);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.name << ": " << s.message();
    EXPECT_NE(s.message().find("slice 1 (seq 2)"), std::string::npos) << c.name << ": " << s.message();
    EXPECT_EQ(snapshot(*cache), before) << c.name;
    EXPECT_EQ(logits, std::vector<float>(2 * 256, 7.0f)) << c.name;
  }
}

TEST(CpuBackendInvalidBatchTest, LastPositionOfTheContextIsAccepted) {
  const testing::RandomModel m = testing::make_random_model(testing::tiny_config(), DType::kF32, 8);
  auto be = CpuBackend::create(m.config, m.weights, {.threads = 1});
  auto cache = CpuKvCache::create(m.config, 32, 4);
  ASSERT_TRUE(be.is_ok() && cache.is_ok());
  EXPECT_EQ(cache->bytes(), 32 * CpuKvCache::bytes_per_block(m.config, 4));
  std::vector<std::int32_t> table(32);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int32_t>(i);
  const std::vector<std::int32_t> tokens(128, 3);  // positions 0..127, context_length 128
  ForwardBatch b;
  b.seqs.push_back({.seq_id = 1, .tokens = tokens, .start_pos = 0, .block_table = table});
  EXPECT_TRUE(be->forward(b, *cache).is_ok());
}

TEST(CpuBackendInvalidBatchTest, DuplicateSeqIdAndShortLogitsBuffer) {
  const testing::RandomModel m = testing::make_random_model(testing::tiny_config(), DType::kF32, 8);
  auto be = CpuBackend::create(m.config, m.weights, {.threads = 1});
  auto cache = CpuKvCache::create(m.config, 8, 4);
  ASSERT_TRUE(be.is_ok() && cache.is_ok());
  const std::vector<std::int32_t> tokens = {1, 2};
  const std::vector<std::int32_t> t0 = {0}, t1 = {1};
  ForwardBatch b;
  b.seqs.push_back({.seq_id = 5, .tokens = tokens, .start_pos = 0, .block_table = t0});
  b.seqs.push_back({.seq_id = 5, .tokens = tokens, .start_pos = 0, .block_table = t1});
  EXPECT_NE(be->forward(b, *cache).status().message().find("seq_id appears twice"), std::string::npos);
  b.seqs[1].seq_id = 6;
  std::vector<float> small(256 + 255);
  const Status s = be->forward(b, *cache, small);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("512 needed"), std::string::npos) << s.message();
  std::vector<float> enough(512);
  EXPECT_TRUE(be->forward(b, *cache, enough).is_ok());
  auto wrong_cache = CpuKvCache::create(testing::tiny_config(1), 8, 4);
  ASSERT_TRUE(wrong_cache.is_ok());
  EXPECT_EQ(be->forward(b, *wrong_cache).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatscale::engine
