// The simulated GPU fleet: EngineReplica (scheduler + calibrated time model, no clock) directly, and
// SimGpuCluster on a real SimGrid engine (one per test process: ctest runs each test on its own).
#include "sim/fleet/gpu_cluster.h"

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include "moderation/moderator.h"
#include "sim/fleet/calibration.h"
#include "sim/sim_clock.h"

namespace chatscale::sim {
namespace {

namespace s4u = simgrid::s4u;

const IterationTimeModel& time_model() {
  static const IterationTimeModel model = [] {
    auto m = fleet_time_model(Scenario{});
    if (!m.is_ok()) throw std::runtime_error(m.status().message());
    return std::move(m).value();
  }();
  return model;
}

ModelShape llama8b() {
  ModelSpec spec;  // the defaults are Llama-3-8B, the calibrated shape
  return spec.shape();
}

EngineReplicaConfig engine_config(std::int32_t max_seqs = 256, std::int64_t max_waiting = 64) {
  EngineReplicaConfig c;
  c.scheduler.max_num_seqs = max_seqs;
  c.scheduler.max_waiting = max_waiting;
  c.block_tokens = 16;
  c.kv_blocks = replica_kv_blocks(llama8b(), time_model().gpu(), 1, 0.9, 16);
  return c;
}

Scheduler::Request req(RequestId id, std::int64_t prompt, std::int64_t answer, double at = 0) {
  Scheduler::Request r;
  r.id = id;
  r.prompt_tokens = prompt;
  r.max_new_tokens = answer;
  r.arrival_time = at;
  return r;
}

TEST(EngineReplica, KvCapacityFollowsTheMemoryLeftByTheWeights) {
  const ModelShape shape = llama8b();
  // 80 GiB x 0.9 minus 16.1 GB of bf16 weights, over 128 KiB of KV per token (32 layers x 8 heads x 128 x 2 x 2).
  const double expect = (80.0 * 1024 * 1024 * 1024 * 0.9 - shape.parameters() * 2) / (32 * 8 * 128 * 2 * 2) / 16;
  EXPECT_NEAR(static_cast<double>(replica_kv_blocks(shape, time_model().gpu(), 1, 0.9, 16)), expect, 1.0);
  ModelShape huge = shape;
  huge.layers = 2000;  // weights beyond the GPU: no KV cache at all
  EXPECT_EQ(replica_kv_blocks(huge, time_model().gpu(), 1, 0.9, 16), 0);
}

TEST(EngineReplica, PrefillSamplesTheFirstTokenThenOneTokenPerDecodeIteration) {
  const ModelShape shape = llama8b();
  EngineReplica replica(shape, time_model(), engine_config());
  ASSERT_TRUE(replica.enqueue(req(1, 500, 3), 0).is_ok());
  double now = 0;
  std::vector<double> durations;
  std::int64_t sampled = 0;
  while (auto dt = replica.begin_iteration(now)) {
    durations.push_back(*dt);
    now += *dt;
    IterationOutcome out = replica.end_iteration(now);
    sampled += static_cast<std::int64_t>(out.sampled.size());
    if (!out.finished.empty()) {
      EXPECT_EQ(out.finished[0].generated_tokens, 3);
      EXPECT_EQ(out.finished[0].reason, FinishReason::kLength);
    }
  }
  ASSERT_EQ(durations.size(), 3u);  // one prefill (samples token 1), two decodes
  EXPECT_EQ(sampled, 3);
  EXPECT_TRUE(replica.idle());
  // The prefill of 500 tokens costs more than a decode step; both are what the time model says.
  EXPECT_DOUBLE_EQ(durations[0], time_model().predict_ms(shape, IterationShape::prefill(1, 500), 1) / 1e3);
  EXPECT_DOUBLE_EQ(durations[1], time_model().predict_ms(shape, IterationShape::decode(1, 501), 1) / 1e3);
  EXPECT_GT(durations[0], durations[1]);
  EXPECT_EQ(replica.counters().generated_tokens, 3);
  EXPECT_EQ(replica.counters().prompt_tokens, 500);
}

TEST(EngineReplica, ContinuousBatchingRunsManySequencesPerIteration) {
  EngineReplica replica(llama8b(), time_model(), engine_config());
  for (RequestId id = 1; id <= 64; ++id) ASSERT_TRUE(replica.enqueue(req(id, 100, 50), 0).is_ok());
  double now = 0;
  while (auto dt = replica.begin_iteration(now)) {
    now += *dt;
    replica.end_iteration(now);
  }
  // 64 x 100 prompt tokens fit one 8192-token budget: one prefill iteration, then 49 batched decodes.
  EXPECT_EQ(replica.counters().iterations, 50);
  EXPECT_DOUBLE_EQ(static_cast<double>(replica.counters().decode_sequences) / 49.0, 64.0);
  EXPECT_EQ(replica.counters().generated_tokens, 64 * 50);
}

TEST(EngineReplica, FullWaitingQueueRefusesAndResetDropsEverything) {
  EngineReplica replica(llama8b(), time_model(), engine_config(1, 1));
  ASSERT_TRUE(replica.enqueue(req(1, 10, 10), 0).is_ok());  // waits until the engine's next iteration
  EXPECT_EQ(replica.enqueue(req(2, 10, 10), 0).code(), StatusCode::kUnavailable);  // the bound: 1 waiting
  ASSERT_TRUE(replica.begin_iteration(0).has_value());      // 1 runs: the queue has room again
  ASSERT_TRUE(replica.enqueue(req(2, 10, 10), 0).is_ok());
  EXPECT_TRUE(replica.cancel(2).is_ok());
  EXPECT_EQ(replica.cancel(2).code(), StatusCode::kNotFound);
  replica.reset();
  EXPECT_TRUE(replica.idle());
  EXPECT_EQ(replica.live(), 0u);
  EXPECT_EQ(replica.stats().kv_used_blocks, 0);
}

TEST(ReplicaSampling, EachSimulatedEngineSeesAFullScaleReplicasLoad) {
  for (double replicas : {0.3, 0.77, 2.19, 10.0, 765.625}) {
    for (double f : {1.0, 0.01, 0.001}) {
      ReplicaSampling s = replica_sampling(replicas, f, 1);
      EXPECT_GE(s.simulated_replicas, 1);
      EXPECT_GE(s.background_per_request, 0.0);
      // Per simulated engine: (1 + b) x sampled traffic / m must equal the full traffic / R (take traffic = 1).
      EXPECT_NEAR((1 + s.background_per_request) * f / s.simulated_replicas, 1.0 / replicas, 1e-12)
          << replicas << " replicas at f=" << f;
    }
  }
  EXPECT_EQ(replica_sampling(765.625, 0.001, 1).simulated_replicas, 1);
  EXPECT_EQ(replica_sampling(765.625, 0.001, 4).simulated_replicas, 4);
  EXPECT_EQ(replica_sampling(10, 1, 1).simulated_replicas, 10);
  EXPECT_DOUBLE_EQ(replica_sampling(10, 1, 1).background_per_request, 0);
}

// --- SimGpuCluster on SimGrid ---

s4u::Host* host() {
  static s4u::Host* h = [] {
    static s4u::Engine engine("gpu_cluster_test");
#if defined(__SANITIZE_ADDRESS__)
    s4u::Engine::set_config("contexts/factory:thread");
#endif
    auto* zone = s4u::create_full_zone("zone0");
    s4u::Host* made = zone->create_host("host0", 1e9);
    zone->seal();
    return made;
  }();
  return h;
}

Spawner spawner() {
  return [](const std::string& name, std::function<void()> body) {
    s4u::Actor::create(name, host(), std::move(body))->daemonize();
  };
}

TrafficSpec fixed_answers(double bytes) {
  TrafficSpec t;
  t.assistant_response.mean_bytes = bytes;
  t.assistant_response.distribution = SizeDistribution::kFixed;
  t.bytes_per_token = 4;
  return t;
}

GpuClusterConfig cluster_config(int replicas = 1, std::int64_t max_waiting = 64) {
  GpuClusterConfig c;
  c.name = "c0";
  c.region = "us-east";
  c.full_replicas = replicas;
  c.simulated_replicas = replicas;
  c.engine = engine_config(256, max_waiting);
  c.chunk_s = 0.5;
  c.wire_bytes_per_answer_byte = 1.5;
  c.seed = 7;
  return c;
}

InferenceRequest request(std::int64_t prompt = 100, std::int64_t max_tokens = 1000) {
  InferenceRequest r;
  r.prompt_tokens = prompt;
  r.max_tokens = max_tokens;
  return r;
}

struct Events {
  std::int64_t tokens = 0;
  std::int64_t bytes = 0;
  int deltas = 0;
  double first_token_at = -1;
  InferenceEvent last;
  std::string text;
};

Events drain(InferenceStream& stream, SimClock& clock) {
  Events e;
  for (;;) {
    auto ev = stream.next(0);
    if (!ev.is_ok()) {
      e.last = InferenceEvent::failure(ev.status());
      return e;
    }
    if (ev->kind != InferenceEvent::Kind::kDelta) {
      e.last = *ev;
      return e;
    }
    if (e.first_token_at < 0) e.first_token_at = clock.now();
    e.tokens += ev->tokens;
    e.bytes += ev->bytes;
    e.text += ev->text;
    ++e.deltas;
  }
}

void run(const std::function<void()>& body) {
  s4u::Actor::create("test", host(), body);
  s4u::Engine::get_instance()->run();
}

TEST(SimGpuCluster, StreamsFirstTokenAfterThePrefillThenChunksThenDone) {
  SimClock clock;
  Events got;
  double t0 = 0;
  auto sizes = MessageSizes::create(fixed_answers(500), 1);
  ASSERT_TRUE(sizes.is_ok());
  SimGpuCluster cluster(clock, spawner(), cluster_config(), llama8b(), time_model(), std::move(sizes).value());
  run([&] {
    t0 = clock.now();
    auto stream = cluster.start(request(100));
    ASSERT_TRUE(stream.is_ok());
    got = drain(**stream, clock);
    cluster.stop();
    clock.sleep_for(1e-6);  // let the engine actors see the stop and end
  });
  EXPECT_EQ(got.last.kind, InferenceEvent::Kind::kDone);
  EXPECT_EQ(got.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(got.tokens, 125);  // 500 bytes / 4 bytes per token
  EXPECT_EQ(got.last.usage.completion_tokens, 125);
  EXPECT_EQ(got.last.usage.prompt_tokens, 100);
  EXPECT_NEAR(static_cast<double>(got.bytes), 125 * 4 * 1.5, 10);
  EXPECT_NEAR(got.first_token_at - t0, time_model().predict_ms(llama8b(), IterationShape::prefill(1, 100), 1) / 1e3, 1e-9);
  // 124 decode iterations of ~7 ms take ~0.9 s: deltas every 0.5 s, not one per token.
  EXPECT_GE(got.deltas, 2);
  EXPECT_LE(got.deltas, 5);
}

TEST(SimGpuCluster, MaxTokensEndsWithLength) {
  SimClock clock;
  Events got;
  SimGpuCluster cluster(clock, spawner(), cluster_config(), llama8b(), time_model(), MessageSizes::create(fixed_answers(500), 1).value());
  run([&] {
    auto stream = cluster.start(request(10, 20));
    ASSERT_TRUE(stream.is_ok());
    got = drain(**stream, clock);
    cluster.stop();
    clock.sleep_for(1e-6);  // let the engine actors see the stop and end
  });
  EXPECT_EQ(got.tokens, 20);
  EXPECT_EQ(got.last.finish_reason, FinishReason::kLength);
}

// Two sequences run at a time (max_num_seqs 2), at most two wait: of five requests sent at once the
// fifth is refused (the gateway's 503), the third and fourth start as the first pair finishes.
TEST(SimGpuCluster, ConcurrentStreamsShareIterationsAndABoundedQueueRefuses) {
  SimClock clock;
  auto config = cluster_config(1, 4);
  config.engine.scheduler.max_num_seqs = 2;
  SimGpuCluster cluster(clock, spawner(), config, llama8b(), time_model(), MessageSizes::create(fixed_answers(400), 1).value());
  std::vector<Events> got(4);
  Status fifth;
  run([&] {
    std::vector<std::unique_ptr<InferenceStream>> streams;
    for (int i = 0; i < 4; ++i) {
      auto s = cluster.start(request(50));
      ASSERT_TRUE(s.is_ok()) << i;
      streams.push_back(std::move(s).value());
    }
    fifth = cluster.start(request(50)).status();
    // One reader per stream, as the message service's tasks read them.
    std::vector<s4u::ActorPtr> readers;
    for (std::size_t i = 0; i < 4; ++i)
      readers.push_back(s4u::Actor::create("reader" + std::to_string(i), host(),
                                           [&, i] { got[i] = drain(*streams[i], clock); }));
    for (auto& r : readers) r->join();
    cluster.stop();
    clock.sleep_for(1e-6);  // let the engine actors see the stop and end
  });
  EXPECT_EQ(fifth.code(), StatusCode::kUnavailable);
  for (const auto& e : got) EXPECT_EQ(e.tokens, 100);
  // The second request joins the first at the engine's second iteration: continuous batching.
  EXPECT_LT(got[1].first_token_at, got[0].first_token_at + 0.05);
  // The later pair gets its first token only after the first pair's 99 decode steps.
  EXPECT_GT(got[2].first_token_at, got[0].first_token_at + 99 * 0.005);
  EXPECT_GT(got[3].first_token_at, got[0].first_token_at + 99 * 0.005);
}

TEST(SimGpuCluster, DownClusterFailsItsStreamsAndRefusesUntilBackUp) {
  SimClock clock;
  SimGpuCluster cluster(clock, spawner(), cluster_config(), llama8b(), time_model(), MessageSizes::create(fixed_answers(4000), 1).value());
  Events got;
  Status while_down;
  bool after = false;
  run([&] {
    auto stream = std::move(cluster.start(request(100))).value();
    auto first = stream->next(0);
    ASSERT_TRUE(first.is_ok());
    cluster.set_down(true);
    EXPECT_FALSE(cluster.load().healthy);
    got = drain(*stream, clock);
    while_down = cluster.start(request()).status();
    cluster.set_down(false);
    auto again = cluster.start(request(10, 5));
    after = again.is_ok() && drain(**again, clock).last.kind == InferenceEvent::Kind::kDone;
    cluster.stop();
    clock.sleep_for(1e-6);  // let the engine actors see the stop and end
  });
  EXPECT_EQ(got.last.kind, InferenceEvent::Kind::kError);
  EXPECT_EQ(while_down.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(after);
}

TEST(SimGpuCluster, FlaggedAnswersCarryTextTheModeratorFlags) {
  SimClock clock;
  auto config = cluster_config();
  config.output_flag_rate = 1.0;
  SimGpuCluster cluster(clock, spawner(), config, llama8b(), time_model(), MessageSizes::create(fixed_answers(2000), 1).value());
  Events got;
  run([&] {
    got = drain(*std::move(cluster.start(request())).value(), clock);
    cluster.stop();
    clock.sleep_for(1e-6);  // let the engine actors see the stop and end
  });
  EXPECT_TRUE(Moderator::builtin().classify(got.text).flagged) << got.text;
}

// Background requests stand in for the unsampled traffic: with b = 9 each sampled request brings nine
// more, so the engine decodes in batches about ten times larger than the sampled stream alone makes.
TEST(SimGpuCluster, BackgroundRequestsRaiseTheBatchToTheFullScaleLoad) {
  auto mean_batch = [](double background) {
    SimClock clock;
    auto config = cluster_config();
    config.background_per_request = background;
    SimGpuCluster cluster(clock, spawner(), config, llama8b(), time_model(), MessageSizes::create(fixed_answers(2000), 1).value());
    double batch = 0;
    run([&] {
      std::vector<std::unique_ptr<InferenceStream>> streams;
      for (int i = 0; i < 20; ++i) {
        streams.push_back(std::move(cluster.start(request(200))).value());
        clock.sleep_for(0.2);
      }
      for (auto& s : streams) drain(*s, clock);
      const auto c = cluster.counters();
      batch = static_cast<double>(c.engines.decode_sequences) / static_cast<double>(c.engines.iterations);
      cluster.stop();
      clock.sleep_for(1e-6);  // let the engine actors see the stop and end
    });
    return batch;
  };
  const double alone = mean_batch(0);
  const double full = mean_batch(9);
  EXPECT_GT(full, 5 * alone) << alone << " vs " << full;
}

}  // namespace
}  // namespace chatscale::sim
