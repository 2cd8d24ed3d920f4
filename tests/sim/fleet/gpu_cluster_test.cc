#include "sim/fleet/gpu_cluster.h"

#include <gtest/gtest.h>

#include "moderation/moderator.h"
#include "testing/manual_clock.h"

namespace chatscale::sim {
namespace {

ModelSpec llama70b_tp8() {
  ModelSpec m;
  m.name = "llama3-70b";
  m.hidden = 8192;
  m.heads = 64;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn = 28672;
  m.layers = 80;
  m.tensor_parallel = 8;
  return m;
}

GpuClusterConfig config(std::int64_t slots, std::int64_t waiting) {
  GpuClusterConfig c;
  c.name = "c0";
  c.region = "us-east";
  c.replicas = 1;
  c.slots = slots;
  c.max_waiting = waiting;
  c.network_rtt_s = 0.01;
  c.answer_distribution = SizeDistribution::kFixed;
  c.answer_bytes_mean = 500;
  c.bytes_per_token = 4;
  c.wire_bytes_per_answer_byte = 1.5;
  return c;
}

InferenceRequest request(std::int64_t prompt = 100, std::int64_t max_tokens = 1000) {
  InferenceRequest r;
  r.prompt_tokens = prompt;
  r.max_tokens = max_tokens;
  return r;
}

TEST(GpuTiming, RooflineOfA70bModelAtTp8) {
  auto t = GpuTimingModel::from(llama70b_tp8());
  // ~70.6B parameters in bf16 over 8 GPUs: ~17.6 GB per GPU read per step at 0.8 x 3.008 TB/s.
  EXPECT_NEAR(t.parameters / 1e9, 70.6, 0.5);
  EXPECT_NEAR(t.decode_step_s(1, 0) * 1e3, t.weight_bytes_per_gpu / (3.008e12 * 0.8) * 1e3, 1e-9);
  EXPECT_GT(t.decode_step_s(256, 2048), t.decode_step_s(1, 2048)) << "KV reads grow with the batch";
  // Prefill of 2048 tokens: 2 x 70.6e9 x 2048 / (8 x 782e12 x 0.6) = ~77 ms (Splitwise measured 137 ms).
  EXPECT_NEAR(t.prefill_s(2048), 2 * t.parameters * 2048 / (8 * 782.2e12 * 0.6), 1e-9);
}

TEST(SimGpuCluster, StreamsFirstTokenThenChunksThenDone) {
  testing::ManualClock clock(0);
  SimGpuCluster cluster(clock, config(4, 4), GpuTimingModel::from(llama70b_tp8()));
  auto stream = cluster.start(request());
  ASSERT_TRUE(stream.is_ok());
  EXPECT_EQ(cluster.running(), 1);
  auto first = (*stream)->next(0);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->kind, InferenceEvent::Kind::kDelta);
  EXPECT_EQ(first->tokens, 1);
  auto t = GpuTimingModel::from(llama70b_tp8());
  EXPECT_NEAR(clock.now(), 0.01 + t.prefill_s(100), 1e-12);
  std::int64_t tokens = first->tokens, bytes = first->bytes;
  for (;;) {
    auto e = (*stream)->next(0);
    ASSERT_TRUE(e.is_ok());
    if (e->kind == InferenceEvent::Kind::kDone) {
      EXPECT_EQ(e->usage.completion_tokens, 125);
      EXPECT_EQ(e->finish_reason, FinishReason::kStop);
      break;
    }
    tokens += e->tokens;
    bytes += e->bytes;
  }
  EXPECT_EQ(tokens, 125);
  EXPECT_NEAR(static_cast<double>(bytes), 125 * 4 * 1.5, 125);
  EXPECT_EQ(cluster.running(), 0);
}

TEST(SimGpuCluster, MaxTokensTruncatesWithLength) {
  testing::ManualClock clock(0);
  SimGpuCluster cluster(clock, config(4, 4), GpuTimingModel::from(llama70b_tp8()));
  auto stream = cluster.start(request(10, 20));
  std::int64_t tokens = 0;
  for (;;) {
    auto e = (*stream)->next(0);
    ASSERT_TRUE(e.is_ok());
    if (e->kind == InferenceEvent::Kind::kDone) {
      EXPECT_EQ(e->finish_reason, FinishReason::kLength);
      break;
    }
    tokens += e->tokens;
  }
  EXPECT_EQ(tokens, 20);
}

TEST(SimGpuCluster, FullQueueRefusesAndCancelFreesTheSlot) {
  testing::ManualClock clock(0);
  SimGpuCluster cluster(clock, config(1, 1), GpuTimingModel::from(llama70b_tp8()));
  auto a = cluster.start(request());
  auto b = cluster.start(request());  // queued
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(cluster.waiting(), 1);
  auto c = cluster.start(request());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  // b times out while queued, then a is cancelled and b gets the slot.
  auto waited = (*b)->next(clock.now() + 1);
  EXPECT_EQ(waited.status().code(), StatusCode::kDeadlineExceeded);
  (*a)->cancel();
  EXPECT_EQ(cluster.running(), 1);
  EXPECT_EQ(cluster.waiting(), 0);
  auto first = (*b)->next(0);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->kind, InferenceEvent::Kind::kDelta);
  b->reset();
  EXPECT_EQ(cluster.running(), 0);
}

TEST(SimGpuCluster, DownClusterRefusesAndFailsRunningStreams) {
  testing::ManualClock clock(0);
  SimGpuCluster cluster(clock, config(4, 4), GpuTimingModel::from(llama70b_tp8()));
  auto a = cluster.start(request());
  cluster.set_down(true);
  EXPECT_FALSE(cluster.load().healthy);
  auto e = (*a)->next(0);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->kind, InferenceEvent::Kind::kError);
  EXPECT_EQ(cluster.start(request()).status().code(), StatusCode::kUnavailable);
  cluster.set_down(false);
  EXPECT_TRUE(cluster.start(request()).is_ok());
}

TEST(SimGpuCluster, FlaggedAnswersCarryTextTheModeratorFlags) {
  testing::ManualClock clock(0);
  auto c = config(4, 4);
  c.output_flag_rate = 1.0;
  SimGpuCluster cluster(clock, c, GpuTimingModel::from(llama70b_tp8()));
  auto stream = cluster.start(request());
  std::string text;
  for (;;) {
    auto e = (*stream)->next(0);
    ASSERT_TRUE(e.is_ok());
    if (e->kind != InferenceEvent::Kind::kDelta) break;
    text += e->text;
  }
  EXPECT_TRUE(Moderator::builtin().classify(text).flagged) << text;
}

}  // namespace
}  // namespace chatscale::sim
