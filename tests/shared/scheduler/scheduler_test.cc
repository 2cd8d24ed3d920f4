#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace chatscale {
namespace {

using Request = Scheduler::Request;
using Outcome = Scheduler::Outcome;

Request req(RequestId id, std::int64_t prompt, std::int64_t max_new, std::int32_t priority = 0,
            double arrival = 0) {
  return Request{id, priority, arrival, prompt, max_new};
}

SchedulerOptions opts(std::int64_t budget, std::int32_t max_seqs = 256,
                      std::int64_t max_waiting = 100) {
  SchedulerOptions o;
  o.max_num_batched_tokens = budget;
  o.max_num_seqs = max_seqs;
  o.max_waiting = max_waiting;
  o.admission_watermark = 0;
  return o;
}

// Runs one iteration with no stop tokens and returns its plan.
IterationPlan step(Scheduler& s, double now = 0) {
  IterationPlan plan = s.next_batch(now);
  s.complete(plan, {}, now);
  return plan;
}

std::vector<RequestId> decode_ids(const IterationPlan& p) {
  std::vector<RequestId> ids;
  for (const DecodeEntry& d : p.decodes) ids.push_back(d.id);
  return ids;
}

TEST(SchedulerOptions, Validation) {
  EXPECT_TRUE(validate(SchedulerOptions{}).is_ok());
  SchedulerOptions o;
  o.max_num_batched_tokens = 0;
  EXPECT_FALSE(validate(o).is_ok());
  o = {};
  o.max_num_seqs = 0;
  EXPECT_FALSE(validate(o).is_ok());
  o = {};
  o.max_waiting = -1;
  EXPECT_FALSE(validate(o).is_ok());
  o = {};
  o.admission_watermark = 1.0;
  EXPECT_FALSE(validate(o).is_ok());
}

TEST(Scheduler, EnqueueValidatesRequests) {
  SchedulerOptions o = opts(64);
  o.max_model_len = 100;
  Scheduler s(o, 16, 4);  // 64 slots
  EXPECT_EQ(s.enqueue(req(1, 0, 5), 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.enqueue(req(1, 5, 0), 0).code(), StatusCode::kInvalidArgument);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(s.enqueue(req(1, 5, 5, 0, inf), 0).code(), StatusCode::kInvalidArgument);
  // 60 + 10 tokens: the last sampled token needs no slot, so 69 slots = 5 blocks > 4.
  EXPECT_EQ(s.enqueue(req(1, 60, 10), 0).code(), StatusCode::kInvalidArgument);
  // 60 + 5: 64 slots fit exactly.
  EXPECT_TRUE(s.enqueue(req(1, 60, 5), 0).is_ok());
  EXPECT_EQ(s.enqueue(req(1, 4, 4), 0).code(), StatusCode::kAlreadyExists);
  Scheduler big(o, 16, 1000);
  EXPECT_EQ(big.enqueue(req(2, 90, 11), 0).code(), StatusCode::kInvalidArgument);  // > max_model_len
  EXPECT_TRUE(big.enqueue(req(2, 90, 10), 0).is_ok());
}

TEST(Scheduler, ChunkedPrefillSplitsALongPromptExactly) {
  Scheduler s(opts(100), 16, 1000);
  ASSERT_TRUE(s.enqueue(req(1, 250, 3), 0).is_ok());
  IterationPlan p1 = step(s);
  ASSERT_EQ(p1.prefills.size(), 1u);
  EXPECT_EQ(p1.prefills[0].tokens, 100);
  EXPECT_EQ(p1.prefills[0].context_before, 0);
  EXPECT_FALSE(p1.prefills[0].samples);
  IterationPlan p2 = step(s);
  ASSERT_EQ(p2.prefills.size(), 1u);
  EXPECT_EQ(p2.prefills[0].tokens, 100);
  EXPECT_EQ(p2.prefills[0].context_before, 100);
  EXPECT_FALSE(p2.prefills[0].samples);
  EXPECT_EQ(s.request(1)->generated_tokens, 0);
  IterationPlan p3 = step(s);
  ASSERT_EQ(p3.prefills.size(), 1u);
  EXPECT_EQ(p3.prefills[0].tokens, 50);
  EXPECT_EQ(p3.prefills[0].context_before, 200);
  EXPECT_TRUE(p3.prefills[0].samples);
  EXPECT_EQ(s.request(1)->generated_tokens, 1);
  EXPECT_EQ(s.request(1)->computed_tokens, 250);
  EXPECT_EQ(s.kv().num_used_blocks(), 16);  // ceil(250 / 16)
  IterationPlan p4 = step(s);
  EXPECT_TRUE(p4.prefills.empty());
  ASSERT_EQ(p4.decodes.size(), 1u);
  EXPECT_EQ(p4.decodes[0].context, 251);
  EXPECT_EQ(step(s).decodes[0].context, 252);
  std::vector<FinishedRequest> done = s.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].generated_tokens, 3);
  EXPECT_EQ(done[0].reason, FinishReason::kLength);
  EXPECT_EQ(s.kv().num_used_blocks(), 0);
  EXPECT_TRUE(s.idle());
  EXPECT_TRUE(s.next_batch(0).empty());
}

TEST(Scheduler, LongPrefillThresholdCapsOneRequestsChunk) {
  SchedulerOptions o = opts(100);
  o.long_prefill_token_threshold = 30;
  Scheduler s(o, 16, 1000);
  ASSERT_TRUE(s.enqueue(req(1, 70, 2), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 70, 2), 0).is_ok());
  IterationPlan p = step(s);
  ASSERT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(p.prefills[0].tokens, 30);
  EXPECT_EQ(p.prefills[1].tokens, 30);
  p = step(s);
  EXPECT_EQ(p.prefills[0].tokens, 30);
  p = step(s);
  EXPECT_EQ(p.prefills[0].tokens, 10);
  EXPECT_TRUE(p.prefills[0].samples);
}

TEST(Scheduler, TokenBudgetIsRespectedAcrossManyRequests) {
  Scheduler s(opts(64), 16, 1000);
  for (RequestId id = 1; id <= 20; ++id) ASSERT_TRUE(s.enqueue(req(id, 10 + id * 3, 5), 0).is_ok());
  std::int64_t prefilled = 0;
  for (int i = 0; i < 200 && !s.idle(); ++i) {
    IterationPlan p = step(s);
    std::int64_t sum = static_cast<std::int64_t>(p.decodes.size());
    for (const PrefillChunk& c : p.prefills) sum += c.tokens;
    EXPECT_EQ(sum, p.num_tokens());
    EXPECT_LE(p.num_tokens(), 64);
    EXPECT_EQ(s.stats().last_num_tokens, p.num_tokens());
    prefilled += p.prefill_tokens;
  }
  EXPECT_TRUE(s.idle());
  std::int64_t prompts = 0;
  for (RequestId id = 1; id <= 20; ++id) prompts += 10 + id * 3;
  EXPECT_EQ(prefilled, prompts);  // no preemption here: each prompt prefilled exactly once
  EXPECT_EQ(s.stats().generated_tokens_total, 100);
}

TEST(Scheduler, DecodesComeBeforePrefills) {
  Scheduler s(opts(10), 16, 1000);
  ASSERT_TRUE(s.enqueue(req(1, 4, 10), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 4, 10), 0).is_ok());
  IterationPlan p = step(s);
  EXPECT_EQ(p.prefill_tokens, 8);
  ASSERT_TRUE(s.enqueue(req(3, 100, 10, /*priority=*/9), 0).is_ok());  // even a higher priority
  p = step(s);
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{1, 2}));
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 3u);
  EXPECT_EQ(p.prefills[0].tokens, 8);  // what the decodes left
  EXPECT_EQ(p.num_tokens(), 10);
  // Request 3 is now running part-way through its prompt: the decodes still come first.
  p = step(s);
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{1, 2}));
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].tokens, 8);
  EXPECT_EQ(p.prefills[0].context_before, 8);
}

TEST(Scheduler, DecodesRunInPriorityOrderAndAheadOfHigherPriorityAdmissions) {
  Scheduler s(opts(3), 16, 1000);
  ASSERT_TRUE(s.enqueue(req(1, 1, 10, 0, 1.0), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(3, 1, 10, 0, 0.5), 0).is_ok());
  IterationPlan p = step(s);
  ASSERT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(p.prefills[0].id, 3u);  // earlier arrival first
  ASSERT_TRUE(s.enqueue(req(2, 1, 10, 5, 2.0), 0).is_ok());
  p = step(s);
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{3, 1}));
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 2u);
  ASSERT_TRUE(s.enqueue(req(4, 1, 10, 7, 3.0), 0).is_ok());
  p = step(s);
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{2, 3, 1}));  // priority, then arrival
  EXPECT_TRUE(p.prefills.empty());  // the decodes took the whole budget
  EXPECT_EQ(s.stats().waiting, 1);
}

TEST(Scheduler, MaxNumSeqsCapsRunningSequences) {
  Scheduler s(opts(1000, /*max_seqs=*/2), 16, 1000);
  for (RequestId id = 1; id <= 3; ++id) ASSERT_TRUE(s.enqueue(req(id, 5, id == 1 ? 1 : 3), 0).is_ok());
  IterationPlan p = step(s);
  EXPECT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(s.stats().running, 1);  // request 1 finished (max_new_tokens = 1)
  EXPECT_EQ(s.stats().waiting, 1);
  p = s.next_batch(0);
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{2}));
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 3u);
  EXPECT_EQ(s.stats().running, 2);
  s.complete(p, {}, 0);
}

TEST(Scheduler, PriorityOrderWithFcfsTies) {
  Scheduler s(opts(1000, /*max_seqs=*/1), 16, 1000);
  ASSERT_TRUE(s.enqueue(req(1, 5, 1, 0, 1.0), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 5, 1, 5, 2.0), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(3, 5, 1, 5, 3.0), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(4, 5, 1, 0, 0.5), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(5, 5, 1, 5, 2.0), 0).is_ok());  // same arrival as 2: enqueue order
  ASSERT_TRUE(s.enqueue(req(6, 5, 1, -3, 0.0), 0).is_ok());
  std::vector<RequestId> order;
  for (int i = 0; i < 10 && !s.idle(); ++i) {
    IterationPlan p = step(s, i);
    ASSERT_EQ(p.prefills.size(), 1u);
    order.push_back(p.prefills[0].id);
  }
  EXPECT_EQ(order, (std::vector<RequestId>{2, 5, 3, 4, 1, 6}));
  std::vector<FinishedRequest> done = s.take_finished();
  ASSERT_EQ(done.size(), 6u);
  EXPECT_EQ(done[0].id, 2u);
  EXPECT_EQ(done[0].first_scheduled_at, 0);
  EXPECT_EQ(done[5].first_token_at, 5);
}

TEST(Scheduler, BoundedWaitingQueueRefusesWithUnavailable) {
  Scheduler s(opts(1000, 256, /*max_waiting=*/3), 16, 1000);
  for (RequestId id = 1; id <= 3; ++id) ASSERT_TRUE(s.enqueue(req(id, 5, 5), 0).is_ok());
  Status refused = s.enqueue(req(4, 5, 5), 0);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_EQ(http_status(refused.code()), 503);
  EXPECT_EQ(s.stats().rejected_total, 1);
  EXPECT_EQ(s.stats().waiting, 3);
  EXPECT_EQ(s.request(4).status().code(), StatusCode::kNotFound);
  step(s);  // all three admitted: the queue has room again
  EXPECT_EQ(s.stats().waiting, 0);
  EXPECT_TRUE(s.enqueue(req(4, 5, 5), 0).is_ok());
}

TEST(Scheduler, HeadOfLineRequestThatDoesNotFitStopsAdmission) {
  Scheduler s(opts(1000), 4, 10);  // 40 slots
  ASSERT_TRUE(s.enqueue(req(1, 24, 8), 0).is_ok());  // 6 blocks
  ASSERT_TRUE(s.enqueue(req(2, 20, 4), 0).is_ok());  // 5 blocks: no room
  ASSERT_TRUE(s.enqueue(req(3, 4, 4), 0).is_ok());   // would fit, but may not overtake
  IterationPlan p = step(s);
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 1u);
  EXPECT_EQ(s.stats().waiting, 2);
}

TEST(Scheduler, WatermarkHoldsBackAdmissionsButNotALoneRequest) {
  SchedulerOptions o = opts(1000);
  o.admission_watermark = 0.2;  // 2 of 10 blocks
  Scheduler s(o, 4, 10);
  ASSERT_TRUE(s.enqueue(req(1, 36, 4), 0).is_ok());  // 9 blocks: admitted alone despite the watermark
  ASSERT_TRUE(s.enqueue(req(2, 4, 1), 0).is_ok());   // 1 block: would leave 0 free < 2
  IterationPlan p = step(s);
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 1u);
  EXPECT_EQ(s.stats().waiting, 1);
}

// KV exhaustion: the victim is the lowest priority, latest arrival running sequence (not the latest
// arrival overall, not the earliest of the lowest priority); it resumes and finishes all its tokens.
TEST(Scheduler, KvExhaustionPreemptsTheRightVictimWhichLaterFinishes) {
  Scheduler s(opts(1000), 4, 10);                      // 40 slots
  ASSERT_TRUE(s.enqueue(req(1, 8, 20, 1, 3.0), 0).is_ok());  // A: high priority, arrived last
  ASSERT_TRUE(s.enqueue(req(2, 8, 20, 0, 1.0), 0).is_ok());  // B
  ASSERT_TRUE(s.enqueue(req(3, 4, 20, 0, 2.0), 0).is_ok());  // C: the right victim
  IterationPlan p = step(s, 0);
  ASSERT_EQ(p.prefills.size(), 3u);
  std::vector<RequestId> victims;
  std::int64_t c_generated_at_preemption = -1;
  bool c_resume_checked = false;
  double now = 1;
  for (int i = 0; i < 500 && !s.idle(); ++i, now += 1) {
    p = s.next_batch(now);
    for (const PrefillChunk& c : p.prefills) {
      if (c.id == 3 && c_generated_at_preemption >= 0 && !c_resume_checked) {
        // Recompute: re-prefill prompt + generated tokens from position 0.
        EXPECT_EQ(c.context_before, 0);
        EXPECT_EQ(c.tokens, 4 + c_generated_at_preemption);
        EXPECT_TRUE(c.samples);
        c_resume_checked = true;
      }
    }
    for (RequestId v : p.preempted) {
      victims.push_back(v);
      if (v == 3 && c_generated_at_preemption < 0) {
        c_generated_at_preemption = s.request(3)->generated_tokens;
      }
      EXPECT_EQ(s.request(v)->state, RequestState::kWaiting);
      EXPECT_EQ(s.request(v)->kv_blocks, 0);
      EXPECT_EQ(s.request(v)->computed_tokens, 0);
    }
    s.complete(p, {}, now);
    ASSERT_TRUE(s.kv().check_consistency().is_ok());
  }
  ASSERT_FALSE(victims.empty());
  EXPECT_EQ(victims.front(), 3u);
  for (RequestId v : victims) EXPECT_NE(v, 1u) << "the high-priority request was preempted";
  EXPECT_TRUE(c_resume_checked);
  EXPECT_TRUE(s.idle());
  std::vector<FinishedRequest> done = s.take_finished();
  ASSERT_EQ(done.size(), 3u);
  for (const FinishedRequest& f : done) {
    EXPECT_EQ(f.generated_tokens, 20) << f.id;
    EXPECT_EQ(f.reason, FinishReason::kLength);
    if (f.id == 1) {
      EXPECT_EQ(f.preemptions, 0);
    } else if (f.id == 3) {
      EXPECT_GE(f.preemptions, 1);
    }
  }
  EXPECT_EQ(done.front().id, 1u);
  EXPECT_EQ(s.stats().preemptions_total, static_cast<std::int64_t>(victims.size()));
  EXPECT_EQ(s.kv().num_used_blocks(), 0);
}

// A victim already scheduled in this iteration (a decode) loses its entry and its tokens go back.
TEST(Scheduler, PreemptingAnAlreadyScheduledVictimWithdrawsItsEntry) {
  Scheduler s(opts(9), 4, 4);  // 16 slots
  ASSERT_TRUE(s.enqueue(req(1, 4, 5, 0, 0), 0).is_ok());   // Y
  step(s);  // Y prefilled (1 block), one token sampled
  ASSERT_TRUE(s.enqueue(req(2, 14, 2, 1, 1), 0).is_ok());  // X: higher priority
  IterationPlan p = step(s);  // Y decodes (2 blocks); X gets an 8-token chunk (2 blocks)
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{1}));
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].tokens, 8);
  EXPECT_EQ(s.kv().num_free_blocks(), 0);
  // X's last 6 tokens need 2 more blocks: Y, already scheduled for a decode, is preempted.
  p = s.next_batch(0);
  EXPECT_TRUE(p.decodes.empty());
  EXPECT_EQ(p.decode_tokens, 0);
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 2u);
  EXPECT_EQ(p.prefills[0].tokens, 6);
  EXPECT_EQ(p.prefills[0].context_before, 8);
  EXPECT_EQ(p.num_tokens(), 6);
  EXPECT_EQ(p.preempted, (std::vector<RequestId>{1}));
  EXPECT_EQ(s.request(1)->generated_tokens, 2);
  s.complete(p, {}, 0);
  EXPECT_EQ(s.request(1)->generated_tokens, 2);  // the withdrawn decode produced nothing
  EXPECT_EQ(s.request(2)->generated_tokens, 1);
  for (int i = 0; i < 50 && !s.idle(); ++i) step(s);
  std::vector<FinishedRequest> done = s.take_finished();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].id, 2u);
  EXPECT_EQ(done[1].id, 1u);
  EXPECT_EQ(done[1].generated_tokens, 5);
  EXPECT_EQ(done[1].preemptions, 1);
}

// The withdrawn decode's token goes back to the budget, for the prefills scheduled after it.
TEST(Scheduler, WithdrawnTokensGoBackToTheBudget) {
  SchedulerOptions o = opts(8);
  o.long_prefill_token_threshold = 4;
  Scheduler s(o, 4, 4);  // 16 slots
  ASSERT_TRUE(s.enqueue(req(1, 4, 5, 0, 0), 0).is_ok());   // Y
  step(s);
  ASSERT_TRUE(s.enqueue(req(2, 12, 1, 2, 1), 0).is_ok());  // X
  ASSERT_TRUE(s.enqueue(req(3, 12, 1, 1, 2), 0).is_ok());  // Z
  IterationPlan p = step(s);  // Y decode 1 (2 blocks), X 4 (1 block), Z 3 (1 block)
  EXPECT_EQ(decode_ids(p), (std::vector<RequestId>{1}));
  ASSERT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(p.prefills[1].tokens, 3);
  EXPECT_EQ(s.kv().num_free_blocks(), 0);
  // Y decodes (budget 7), X's chunk needs a block: Y is preempted and its token refunded, so Z gets
  // 4 tokens rather than 3.
  p = s.next_batch(0);
  EXPECT_EQ(p.preempted, (std::vector<RequestId>{1}));
  EXPECT_TRUE(p.decodes.empty());
  ASSERT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(p.prefills[0].id, 2u);
  EXPECT_EQ(p.prefills[0].tokens, 4);
  EXPECT_EQ(p.prefills[1].id, 3u);
  EXPECT_EQ(p.prefills[1].tokens, 4);
  EXPECT_EQ(p.prefills[1].context_before, 3);
  EXPECT_EQ(p.num_tokens(), 8);
  s.complete(p, {}, 0);
}

// A preempted request goes back to the front of its priority, ahead even of a fresh request stamped
// with an earlier arrival time.
TEST(Scheduler, PreemptedRequestResumesAheadOfFreshOnesOfItsPriority) {
  Scheduler s(opts(1000), 4, 5);  // 20 slots
  ASSERT_TRUE(s.enqueue(req(1, 8, 8, 0, 5.0), 0).is_ok());  // Y
  step(s);
  ASSERT_TRUE(s.enqueue(req(2, 8, 8, 1, 0.0), 0).is_ok());  // H: higher priority
  ASSERT_TRUE(s.enqueue(req(3, 4, 1, 0, 1.0), 0).is_ok());  // F: fresh, earlier stamp than Y
  IterationPlan p = step(s);  // Y decodes (3 blocks), H admitted (2 blocks), F does not fit
  ASSERT_EQ(p.prefills.size(), 1u);
  EXPECT_EQ(p.prefills[0].id, 2u);
  p = step(s);  // H's decode needs a block: Y is preempted
  EXPECT_EQ(p.preempted, (std::vector<RequestId>{1}));
  std::vector<RequestId> admitted;
  for (int i = 0; i < 50 && !s.idle(); ++i) {
    p = step(s);
    for (const PrefillChunk& c : p.prefills) {
      if (c.context_before == 0) admitted.push_back(c.id);
    }
  }
  EXPECT_EQ(admitted, (std::vector<RequestId>{1, 3}));
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, CancelFreesBlocksAtOnce) {
  Scheduler s(opts(1000), 16, 100);
  ASSERT_TRUE(s.enqueue(req(1, 100, 50), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 40, 50), 0).is_ok());
  IterationPlan p = s.next_batch(0);
  EXPECT_EQ(s.kv().num_used_blocks(), 7 + 3);
  ASSERT_TRUE(s.cancel(1).is_ok());
  EXPECT_EQ(s.kv().num_used_blocks(), 3);  // before the iteration even completes
  EXPECT_EQ(s.request(1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.cancel(1).code(), StatusCode::kNotFound);
  s.complete(p, {}, 0);  // the cancelled request's chunk is skipped
  EXPECT_EQ(s.request(2)->generated_tokens, 1);
  EXPECT_TRUE(s.take_finished().empty());
  ASSERT_TRUE(s.enqueue(req(3, 5, 5), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(4, 5, 5), 0).is_ok());
  ASSERT_TRUE(s.cancel(3).is_ok());  // a waiting one
  EXPECT_EQ(s.stats().waiting, 1);
  ASSERT_TRUE(s.cancel(2).is_ok());
  EXPECT_EQ(s.kv().num_used_blocks(), 0);
  EXPECT_EQ(s.stats().cancelled_total, 3);
  EXPECT_TRUE(s.kv().check_consistency().is_ok());
}

TEST(Scheduler, StopOutcomeFinishesEarly) {
  Scheduler s(opts(1000), 16, 100);
  ASSERT_TRUE(s.enqueue(req(1, 10, 50), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 10, 50), 0).is_ok());
  step(s);
  step(s);
  IterationPlan p = s.next_batch(2);
  s.complete(p, {Outcome{2, true}, Outcome{1, false}, Outcome{99, true}}, 2.5);
  std::vector<FinishedRequest> done = s.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, 2u);
  EXPECT_EQ(done[0].reason, FinishReason::kStop);
  EXPECT_EQ(done[0].generated_tokens, 3);  // the stop token counts
  EXPECT_EQ(done[0].finished_at, 2.5);
  EXPECT_EQ(s.request(1)->generated_tokens, 3);
  EXPECT_EQ(s.kv().num_used_blocks(), 1);
}

TEST(Scheduler, StaleOrRepeatedCompletionsAreIgnored) {
  Scheduler s(opts(1000), 16, 100);
  ASSERT_TRUE(s.enqueue(req(1, 10, 50), 0).is_ok());
  IterationPlan p = s.next_batch(0);
  s.complete(p, {}, 0);
  s.complete(p, {}, 0);  // applied once only
  EXPECT_EQ(s.request(1)->generated_tokens, 1);
  IterationPlan abandoned = s.next_batch(1);  // never completed
  IterationPlan p3 = s.next_batch(2);
  s.complete(abandoned, {}, 2);  // not the latest plan
  EXPECT_EQ(s.request(1)->generated_tokens, 1);
  ASSERT_EQ(p3.decodes.size(), 1u);
  EXPECT_EQ(p3.decodes[0].context, 11);  // the abandoned decode did not count
  s.complete(p3, {}, 2);
  EXPECT_EQ(s.request(1)->generated_tokens, 2);
  EXPECT_EQ(s.kv().num_tokens(1), 11);
  EXPECT_TRUE(s.kv().check_consistency().is_ok());
}

TEST(Scheduler, StatsReportQueuesUsageAndTheIteration) {
  Scheduler s(opts(50), 16, 10);
  ASSERT_TRUE(s.enqueue(req(1, 40, 5), 0).is_ok());
  ASSERT_TRUE(s.enqueue(req(2, 40, 5), 0).is_ok());
  IterationPlan p = s.next_batch(0);
  SchedulerStats st = s.stats();
  EXPECT_EQ(st.running, 2);
  EXPECT_EQ(st.waiting, 0);
  EXPECT_EQ(st.last_prefill_tokens, 50);
  EXPECT_EQ(st.last_decode_tokens, 0);
  EXPECT_EQ(st.kv_used_blocks, 3 + 1);
  EXPECT_EQ(st.kv_total_blocks, 10);
  EXPECT_DOUBLE_EQ(st.kv_usage, 0.4);
  EXPECT_EQ(st.iterations, 1);
  s.complete(p, {}, 0);
  EXPECT_EQ(s.stats().generated_tokens_total, 1);
}

}  // namespace
}  // namespace chatscale
