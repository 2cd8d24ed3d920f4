// Cost of the Recorder's hot path: the runner makes about 20 metric calls per simulated message.
// Not a test: built on demand (`ninja recorder_bench`) when Google Benchmark is installed.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sim/report/recorder.h"

namespace chatscale::sim {
namespace {

using M = MetricId;

// One simulated message's worth of calls, shaped like the message service and the models.
void BM_MessageCalls(benchmark::State& state) {
  Recorder rec(0.001);
  std::vector<std::string> tiers = {"free", "plus", "pro"};
  std::vector<std::string> replicas;
  for (int i = 0; i < 20; ++i) replicas.push_back("replica-" + std::to_string(i));
  size_t i = 0;
  for (auto _ : state) {
    const std::string& tier = tiers[i % tiers.size()];
    const std::string& replica = replicas[i % replicas.size()];
    MetricsSink& s = rec.sampled();
    MetricsSink& f = rec.full_scale();
    s.change(M::kActiveStreams, {}, 1);
    s.add(M::kMessages, {tier, "ok"}, 1);
    s.observe(M::kTimeToFirstToken, {tier}, 0.4);
    s.observe(M::kE2eLatency, {tier}, 9.0);
    s.observe(M::kTimePerOutputToken, {tier}, 0.02);
    s.add(M::kPromptTokens, {tier}, 800);
    s.add(M::kGenerationTokens, {tier}, 400);
    s.add(M::kStreamEgressBytes, {}, 2000);
    s.add(M::kInferenceAttempts, {"us-east", "ok"}, 1);
    f.add(M::kDbQueries, {"primary", "write"}, 1000);
    f.add(M::kDbQueries, {"replica", "read"}, 9000);
    f.observe(M::kDbQueryDuration, {"primary", "write"}, 0.002);
    f.observe(M::kDbQueryDuration, {"replica", "read"}, 0.001);
    f.set(M::kDbReplicaLag, {replica}, 0.05);
    s.add(M::kHttpRequests, {"/v1/chat/completions", "200"}, 1);
    s.observe(M::kHttpRequestDuration, {"/v1/chat/completions"}, 0.3);
    f.set(M::kGpuKvCacheUsage, {"us-east"}, 0.7);
    f.set(M::kGpuRunningSequences, {"us-east"}, 200);
    s.add(M::kCostDollars, {"gpu"}, 0.001);
    s.change(M::kActiveStreams, {}, -1);
    rec.sample(SampleKind::kTimeToFirstToken, 0.4, static_cast<double>(i));
    rec.sample(SampleKind::kE2eLatency, 9.0, static_cast<double>(i));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MessageCalls);

// snapshot() over a realistic number of series (about 120, a quarter of them histograms).
void BM_Snapshot(benchmark::State& state) {
  Recorder rec(0.001);
  for (int r = 0; r < 20; ++r) rec.full_scale().set(M::kDbReplicaLag, {"replica-" + std::to_string(r)}, 0.1);
  for (int c = 0; c < 30; ++c) {
    std::string cluster = "cluster-" + std::to_string(c);
    rec.full_scale().set(M::kGpuUtilization, {cluster}, 0.5);
    rec.full_scale().set(M::kGpus, {cluster}, 500);
    rec.full_scale().observe(M::kGpuBatchSize, {cluster}, 64);
  }
  double t = 0;
  for (auto _ : state) rec.snapshot(t += 15);
}
BENCHMARK(BM_Snapshot);

}  // namespace
}  // namespace chatscale::sim

BENCHMARK_MAIN();
