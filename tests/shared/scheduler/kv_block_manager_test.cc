#include "scheduler/kv_block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace chatscale {
namespace {

TEST(KvBytesPerToken, LlamaShapes) {
  // Llama-3-8B bf16: 32 layers, 8 KV heads of 128 -> 128 KiB per token.
  EXPECT_EQ(kv_bytes_per_token(32, 8, 128, 2).value(), 131072);
  // Llama-3-70B bf16: 80 layers, 8 KV heads -> 320 KiB per token.
  EXPECT_EQ(kv_bytes_per_token(80, 8, 128, 2).value(), 327680);
  EXPECT_EQ(kv_bytes_per_token(0, 8, 128, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(kv_bytes_per_token(32, 8, 128, -1).status().code(), StatusCode::kInvalidArgument);
}

TEST(KvBlocksFor, H100WithAn8BModel) {
  KvMemoryBudget b;
  b.gpu_memory_bytes = 80'000'000'000;
  b.memory_utilization = 0.9;            // 72 GB usable
  b.weight_bytes = 16'000'000'000;       // 8B params in bf16
  b.activation_reserve_bytes = 4'000'000'000;
  b.kv_bytes_per_token = 131072;
  b.block_size = 16;                     // 2 MiB per block
  // (72e9 - 16e9 - 4e9) / 2,097,152 = 24,795.91 -> 24,795 blocks (396,720 tokens).
  EXPECT_EQ(kv_blocks_for(b).value(), 24795);
}

TEST(KvBlocksFor, ExactFitAndRefusals) {
  KvMemoryBudget b;
  b.gpu_memory_bytes = 1000;
  b.memory_utilization = 1.0;
  b.weight_bytes = 600;
  b.activation_reserve_bytes = 100;
  b.kv_bytes_per_token = 10;
  b.block_size = 10;  // 100 B per block; 300 B left
  EXPECT_EQ(kv_blocks_for(b).value(), 3);
  b.weight_bytes = 801;  // 99 B left: not one block
  EXPECT_EQ(kv_blocks_for(b).status().code(), StatusCode::kInvalidArgument);
  b.weight_bytes = 2000;
  EXPECT_EQ(kv_blocks_for(b).status().code(), StatusCode::kInvalidArgument);
  b.weight_bytes = 600;
  b.memory_utilization = 1.5;
  EXPECT_EQ(kv_blocks_for(b).status().code(), StatusCode::kInvalidArgument);
  b.memory_utilization = 0.9;
  b.block_size = 0;
  EXPECT_EQ(kv_blocks_for(b).status().code(), StatusCode::kInvalidArgument);
}

TEST(KvBlockManager, AllocatesByBlocksAndGrowsInPlace) {
  KvBlockManager kv(16, 10);
  EXPECT_EQ(kv.blocks_for_tokens(0), 0);
  EXPECT_EQ(kv.blocks_for_tokens(1), 1);
  EXPECT_EQ(kv.blocks_for_tokens(16), 1);
  EXPECT_EQ(kv.blocks_for_tokens(17), 2);

  EXPECT_EQ(kv.blocks_needed(7, 20), 2);
  ASSERT_TRUE(kv.allocate(7, 20).is_ok());
  EXPECT_EQ(kv.num_tokens(7), 20);
  EXPECT_EQ(kv.num_blocks_of(7), 2);
  EXPECT_EQ(kv.num_used_blocks(), 2);
  // 12 slots remain in the second block: 12 more tokens take no block, the 13th does.
  EXPECT_EQ(kv.blocks_needed(7, 12), 0);
  EXPECT_EQ(kv.blocks_needed(7, 13), 1);
  ASSERT_TRUE(kv.allocate(7, 12).is_ok());
  EXPECT_EQ(kv.num_blocks_of(7), 2);
  ASSERT_TRUE(kv.allocate(7, 1).is_ok());
  EXPECT_EQ(kv.num_blocks_of(7), 3);
  EXPECT_DOUBLE_EQ(kv.usage(), 0.3);
  EXPECT_EQ(kv.block_table(7), (std::vector<BlockId>{0, 1, 2}));
  EXPECT_TRUE(kv.check_consistency().is_ok());
}

TEST(KvBlockManager, AllocationIsAllOrNothing) {
  KvBlockManager kv(4, 5);
  ASSERT_TRUE(kv.allocate(1, 12).is_ok());  // 3 blocks
  EXPECT_FALSE(kv.can_allocate(2, 9));      // 3 blocks, 2 free
  Status s = kv.allocate(2, 9);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(kv.num_free_blocks(), 2);
  EXPECT_EQ(kv.num_tokens(2), 0);
  EXPECT_EQ(kv.num_sequences(), 1);
  EXPECT_TRUE(kv.can_allocate(2, 8));
  ASSERT_TRUE(kv.allocate(2, 8).is_ok());
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_EQ(kv.allocate(1, 1).code(), StatusCode::kUnavailable);
  EXPECT_EQ(kv.num_tokens(1), 12);
  EXPECT_EQ(kv.allocate(1, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(kv.check_consistency().is_ok());
}

TEST(KvBlockManager, FreeReturnsEveryBlockForReuse) {
  KvBlockManager kv(4, 6);
  ASSERT_TRUE(kv.allocate(1, 8).is_ok());
  ASSERT_TRUE(kv.allocate(2, 16).is_ok());
  std::vector<BlockId> freed = kv.block_table(2);
  EXPECT_EQ(kv.free(2), 4);
  EXPECT_EQ(kv.free(2), 0);  // unknown now
  EXPECT_TRUE(kv.block_table(2).empty());
  EXPECT_EQ(kv.num_used_blocks(), 2);
  ASSERT_TRUE(kv.allocate(3, 16).is_ok());
  // The freed blocks are the ones handed out again, first block first.
  EXPECT_EQ(kv.block_table(3), freed);
  EXPECT_TRUE(kv.check_consistency().is_ok());
  EXPECT_EQ(kv.free(1) + kv.free(3), 6);
  EXPECT_EQ(kv.num_free_blocks(), 6);
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

TEST(KvBlockManager, ManySequencesNeverShareABlock) {
  KvBlockManager kv(16, 3000);  // the 100 sequences take 2,219 blocks
  for (SeqId s = 0; s < 100; ++s) {
    ASSERT_TRUE(kv.allocate(s, 1 + static_cast<std::int64_t>(s) * 7).is_ok());
  }
  for (SeqId s = 0; s < 100; s += 3) kv.free(s);
  for (SeqId s = 1; s < 100; s += 3) ASSERT_TRUE(kv.allocate(s, 40).is_ok());
  std::set<BlockId> seen;
  std::int64_t held = 0;
  for (SeqId s = 0; s < 100; ++s) {
    for (BlockId b : kv.block_table(s)) EXPECT_TRUE(seen.insert(b).second) << "block " << b;
    held += kv.num_blocks_of(s);
  }
  EXPECT_EQ(held, kv.num_used_blocks());
  EXPECT_TRUE(kv.check_consistency().is_ok());
}

TEST(KvBlockManager, EmptyCache) {
  KvBlockManager kv(16, 0);
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  EXPECT_TRUE(kv.allocate(1, 0).is_ok());
  EXPECT_EQ(kv.allocate(1, 1).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(kv.check_consistency().is_ok());
}

}  // namespace
}  // namespace chatscale
