// Property tests: random workloads with fixed seeds, checking the scheduler's invariants after every
// step, and a throughput sanity run of 10,000 requests through a simulated engine loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "scheduler/scheduler.h"

namespace chatscale {
namespace {

using Request = Scheduler::Request;
using Outcome = Scheduler::Outcome;

// Raw mt19937_64 output is specified by the standard; the distributions are not, so map by hand.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(gen_() % static_cast<std::uint64_t>(n));
  }
  double unit() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 gen_;
};

struct Workload {
  std::int32_t block_size = 16;
  std::int64_t num_blocks = 2000;
  SchedulerOptions options;
  int arrival_steps = 1500;
  std::int64_t max_prompt = 600;
  std::int64_t max_new = 200;
  double cancel_probability = 0.01;
  double stop_probability = 0.03;
};

struct Tracked {
  Request request;
  std::int64_t sampled = 0;  // sampling entries applied, from the plans
  bool done = false;
};

struct RunResult {
  SchedulerStats stats;
  std::int64_t accepted = 0;
  std::int64_t finished = 0;
  std::int64_t cancelled = 0;
  std::uint64_t fingerprint = 1469598103934665603ULL;  // FNV-1a over every plan
};

void mix(std::uint64_t& h, std::int64_t v) {
  h = (h ^ static_cast<std::uint64_t>(v)) * 1099511628211ULL;
}

// Plan-level invariants: budget, uniqueness, entries only for running requests with their slots held.
void check_plan(const Scheduler& s, const IterationPlan& p, const std::map<RequestId, Tracked>& live) {
  const SchedulerOptions& o = s.options();
  EXPECT_LE(p.num_tokens(), o.max_num_batched_tokens);
  EXPECT_LE(s.stats().running, o.max_num_seqs);
  std::set<RequestId> ids;
  std::int64_t prefill = 0;
  for (const DecodeEntry& d : p.decodes) {
    EXPECT_TRUE(ids.insert(d.id).second) << "request twice in a plan: " << d.id;
    EXPECT_GE(d.context, 1);
    EXPECT_LE(d.context, s.kv().num_tokens(d.id)) << "decode without its KV slot";
  }
  for (const PrefillChunk& c : p.prefills) {
    EXPECT_TRUE(ids.insert(c.id).second) << "request twice in a plan: " << c.id;
    EXPECT_GE(c.tokens, 1);
    if (o.long_prefill_token_threshold > 0) {
      EXPECT_LE(c.tokens, o.long_prefill_token_threshold);
    }
    EXPECT_LE(c.context_before + c.tokens, s.kv().num_tokens(c.id)) << "chunk without its KV slots";
    prefill += c.tokens;
  }
  EXPECT_EQ(prefill, p.prefill_tokens);
  EXPECT_EQ(static_cast<std::int64_t>(p.decodes.size()), p.decode_tokens);
  for (RequestId id : ids) {
    ASSERT_TRUE(live.count(id)) << id;
    EXPECT_EQ(s.request(id)->state, RequestState::kRunning);
  }
  for (RequestId id : p.preempted) EXPECT_FALSE(ids.count(id)) << "a preempted request kept its entry";
}

// State invariants: blocks in use == the sum of the requests' blocks; nobody over max tokens.
void check_state(const Scheduler& s, const std::map<RequestId, Tracked>& live) {
  ASSERT_TRUE(s.kv().check_consistency().is_ok()) << s.kv().check_consistency().to_string();
  std::int64_t blocks = 0;
  std::int64_t running = 0;
  for (const auto& [id, t] : live) {
    Result<RequestView> v = s.request(id);
    ASSERT_TRUE(v.is_ok()) << id;
    blocks += v->kv_blocks;
    EXPECT_LE(v->generated_tokens, t.request.max_new_tokens);
    EXPECT_EQ(v->generated_tokens, t.sampled);
    if (v->state == RequestState::kRunning) {
      ++running;
      EXPECT_GE(s.kv().num_tokens(id), v->computed_tokens);
    } else {
      EXPECT_EQ(v->kv_blocks, 0) << "a waiting request holds blocks";
    }
  }
  EXPECT_EQ(blocks, s.kv().num_used_blocks());
  EXPECT_EQ(running, s.stats().running);
  EXPECT_EQ(static_cast<std::int64_t>(live.size()), s.stats().running + s.stats().waiting);
}

void collect_finished(Scheduler& s, std::map<RequestId, Tracked>& live, RunResult& r) {
  for (const FinishedRequest& f : s.take_finished()) {
    auto it = live.find(f.id);
    ASSERT_NE(it, live.end()) << "finished twice or unknown: " << f.id;
    EXPECT_EQ(f.generated_tokens, it->second.sampled);
    EXPECT_LE(f.generated_tokens, it->second.request.max_new_tokens);
    if (f.reason == FinishReason::kLength) {
      EXPECT_EQ(f.generated_tokens, it->second.request.max_new_tokens);
    }
    EXPECT_TRUE(f.reason == FinishReason::kLength || f.reason == FinishReason::kStop);
    EXPECT_LE(f.first_scheduled_at, f.first_token_at);
    EXPECT_LE(f.first_token_at, f.finished_at);
    live.erase(it);
    ++r.finished;
  }
}

void arrive(Scheduler& s, Rng& rng, const Workload& w, double now, RequestId& next_id,
            std::map<RequestId, Tracked>& live, RunResult& r) {
  for (std::int64_t n = rng.below(4); n > 0; --n) {
    Request q{next_id++, static_cast<std::int32_t>(rng.below(3)), now, 1 + rng.below(w.max_prompt),
              1 + rng.below(w.max_new)};
    if (s.enqueue(q, now).is_ok()) {
      live[q.id] = Tracked{q, 0, false};
      ++r.accepted;
    }
  }
}

void maybe_cancel(Scheduler& s, Rng& rng, const Workload& w, std::map<RequestId, Tracked>& live,
                  RunResult& r) {
  if (live.empty() || rng.unit() >= w.cancel_probability) return;
  auto it = live.begin();
  std::advance(it, rng.below(static_cast<std::int64_t>(live.size())));
  ASSERT_TRUE(s.cancel(it->first).is_ok());
  live.erase(it);
  ++r.cancelled;
}

// Applies the plan's sampling entries to the tracker, drawing random stops.
std::vector<Outcome> outcomes_for(const IterationPlan& p, Rng& rng, const Workload& w,
                                  std::map<RequestId, Tracked>& live) {
  std::vector<Outcome> out;
  auto sampled = [&](RequestId id) {
    auto it = live.find(id);
    if (it == live.end()) return;  // cancelled between next_batch and complete
    ++it->second.sampled;
    if (rng.unit() < w.stop_probability) out.push_back(Outcome{id, true});
  };
  for (const DecodeEntry& d : p.decodes) sampled(d.id);
  for (const PrefillChunk& c : p.prefills) {
    if (c.samples) sampled(c.id);
  }
  return out;
}

RunResult run_workload(const Workload& w, std::uint64_t seed) {
  Scheduler s(w.options, w.block_size, w.num_blocks);
  Rng rng(seed);
  RunResult r;
  std::map<RequestId, Tracked> live;
  RequestId next_id = 1;
  double now = 0;
  for (int step = 0; step < w.arrival_steps * 20; ++step, now += 0.01) {
    if (step < w.arrival_steps) arrive(s, rng, w, now, next_id, live, r);
    else if (s.idle()) break;
    IterationPlan p = s.next_batch(now);
    check_plan(s, p, live);
    mix(r.fingerprint, static_cast<std::int64_t>(p.iteration));
    for (const DecodeEntry& d : p.decodes) {
      mix(r.fingerprint, static_cast<std::int64_t>(d.id) * 31 + d.context);
    }
    for (const PrefillChunk& c : p.prefills) {
      mix(r.fingerprint, static_cast<std::int64_t>(c.id) * 17 + c.tokens);
    }
    maybe_cancel(s, rng, w, live, r);
    std::vector<Outcome> outcomes = outcomes_for(p, rng, w, live);
    s.complete(p, outcomes, now + 0.005);
    collect_finished(s, live, r);
    check_state(s, live);
    if (::testing::Test::HasFatalFailure()) return r;
  }
  EXPECT_TRUE(s.idle()) << "requests left unfinished: " << live.size();
  EXPECT_TRUE(live.empty());
  EXPECT_EQ(r.accepted, r.finished + r.cancelled);
  EXPECT_EQ(s.kv().num_used_blocks(), 0);
  r.stats = s.stats();
  return r;
}

Workload roomy() {
  Workload w;
  w.options.max_num_batched_tokens = 512;
  w.options.max_num_seqs = 64;
  w.options.max_waiting = 200;
  return w;
}

Workload tight() {  // a small cache: preemption is routine
  Workload w;
  w.num_blocks = 120;
  w.options.max_num_batched_tokens = 256;
  w.options.max_num_seqs = 32;
  w.options.max_waiting = 100;
  w.options.long_prefill_token_threshold = 64;
  w.max_prompt = 900;
  w.max_new = 400;
  return w;
}

Workload one_token_blocks() {
  Workload w;
  w.block_size = 1;
  w.num_blocks = 700;
  w.options.max_num_batched_tokens = 128;
  w.options.max_num_seqs = 16;
  w.options.max_waiting = 50;
  w.options.admission_watermark = 0;
  w.max_prompt = 300;
  w.max_new = 300;
  return w;
}

TEST(SchedulerProperty, RoomyCacheInvariantsHold) {
  for (std::uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    RunResult r = run_workload(roomy(), seed);
    EXPECT_GT(r.finished, 1000);
    EXPECT_GT(r.cancelled, 0);
  }
}

TEST(SchedulerProperty, TightCacheInvariantsHoldUnderPreemption) {
  for (std::uint64_t seed : {11, 12, 13}) {
    SCOPED_TRACE(seed);
    RunResult r = run_workload(tight(), seed);
    EXPECT_GT(r.finished, 100);
    EXPECT_GT(r.stats.preemptions_total, 0) << "the workload never exercised preemption";
    EXPECT_GT(r.stats.rejected_total, 0) << "the workload never filled the waiting queue";
  }
}

TEST(SchedulerProperty, OneTokenBlocksInvariantsHold) {
  RunResult r = run_workload(one_token_blocks(), 21);
  EXPECT_GT(r.finished, 100);
  EXPECT_GT(r.stats.preemptions_total, 0);
}

TEST(SchedulerProperty, SameSeedSamePlans) {
  RunResult a = run_workload(tight(), 5);
  RunResult b = run_workload(tight(), 5);
  RunResult c = run_workload(tight(), 6);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.stats.iterations, b.stats.iterations);
  EXPECT_NE(a.fingerprint, c.fingerprint);
}

// 10,000 requests through a simulated engine: arrivals at a steady rate, an iteration time that grows
// with the batch, KV capacity of an H100 serving an 8B model. Every request completes with all its
// tokens, and continuous batching actually batches.
TEST(SchedulerThroughput, TenThousandRequestsComplete) {
  KvMemoryBudget mem;
  mem.gpu_memory_bytes = 80'000'000'000;
  mem.weight_bytes = 16'000'000'000;
  mem.activation_reserve_bytes = 4'000'000'000;
  mem.kv_bytes_per_token = kv_bytes_per_token(32, 8, 128, 2).value();
  SchedulerOptions o;  // vLLM-like defaults: 8192 tokens, 256 sequences
  o.max_waiting = 20000;
  Scheduler s(o, mem.block_size, kv_blocks_for(mem).value());
  Rng rng(42);
  constexpr int kRequests = 10000;
  std::int64_t expected_tokens = 0;
  double now = 0;
  double next_arrival = 0;
  int arrived = 0;
  std::int64_t iterations = 0;
  std::int64_t decode_tokens = 0;
  while (arrived < kRequests || !s.idle()) {
    while (arrived < kRequests && next_arrival <= now) {
      Request q{static_cast<RequestId>(arrived + 1), 0, next_arrival, 50 + rng.below(2000),
                1 + rng.below(600)};
      ASSERT_TRUE(s.enqueue(q, now).is_ok());
      expected_tokens += q.max_new_tokens;
      ++arrived;
      next_arrival += 0.02 * 2 * rng.unit();  // about 50 requests/s
    }
    IterationPlan p = s.next_batch(now);
    if (p.empty()) {  // idle: jump to the next arrival
      ASSERT_LT(arrived, kRequests) << "stuck with work queued";
      now = std::max(now, next_arrival);
      continue;
    }
    now += 0.008 + 2e-5 * static_cast<double>(p.prefill_tokens) +
           5e-5 * static_cast<double>(p.decode_tokens);
    s.complete(p, {}, now);
    ++iterations;
    decode_tokens += p.decode_tokens;
  }
  SchedulerStats st = s.stats();
  EXPECT_EQ(st.finished_total, kRequests);
  EXPECT_EQ(st.generated_tokens_total, expected_tokens);
  EXPECT_EQ(st.rejected_total, 0);
  EXPECT_EQ(s.kv().num_used_blocks(), 0);
  const double mean_decode_batch = static_cast<double>(decode_tokens) / static_cast<double>(iterations);
  EXPECT_GT(mean_decode_batch, 10.0);
  std::cout << "[throughput] " << kRequests << " requests, " << expected_tokens << " tokens, "
            << iterations << " iterations, mean decode batch " << mean_decode_batch << ", "
            << st.preemptions_total << " preemptions, simulated " << now << " s\n";
}

}  // namespace
}  // namespace chatscale
