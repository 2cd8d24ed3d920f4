#include "sim/runner/sim_runner.h"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>
#include <xbt/log.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "moderation/moderator.h"
#include "ports/tokenizer.h"
#include "ratelimit/memory_rate_limit_store.h"
#include "ratelimit/rate_limiter.h"
#include "service/message_service.h"
#include "sim/db/database_model.h"
#include "sim/db/sim_stores.h"
#include "sim/fleet/calibration.h"
#include "sim/fleet/gpu_cluster.h"
#include "sim/report/recorder.h"
#include "sim/runner/actor_pool.h"
#include "sim/runner/service_tier.h"
#include "sim/sim_clock.h"
#include "sim/traffic/arrivals.h"
#include "sim/traffic/diurnal_profile.h"

namespace chatscale::sim {
namespace s4u = simgrid::s4u;

SimRun::SimRun() = default;
SimRun::~SimRun() = default;
SimRun::SimRun(SimRun&&) noexcept = default;
SimRun& SimRun::operator=(SimRun&&) noexcept = default;

namespace {

// Counts the timed waits of every task: the simulation's events.
class CountingClock : public ClockWrapper {
 public:
  explicit CountingClock(Clock& target) : ClockWrapper(target) {}
  void sleep_until(double t) override {
    ++events;
    target().sleep_until(t);
  }
  std::uint64_t events = 0;
};

// The simulator's SSE client: it reads every event and never goes away; the message service records
// the stream's metrics itself.
class SimSink : public StreamSink {
 public:
  explicit SimSink(const Clock& clock) : clock_(clock) {}
  bool on_user_message(const Message&) override {
    opened_at = clock_.now();
    return true;
  }
  bool on_delta(std::string_view, std::int64_t, std::int64_t) override { return true; }
  bool on_heartbeat() override { return true; }
  void on_done(const Message&) override { closed_at = clock_.now(); }

  double opened_at = -1, closed_at = -1;  // the stream's life, as chatscale_active_streams counts it

 private:
  const Clock& clock_;
};

// Benign filler text for user messages, and a message the shared moderation refuses.
constexpr std::string_view kFiller =
    "Could you help me plan a week of healthy dinners with a shopping list and short recipes for each day "
    "and explain how long each one takes to cook on a weeknight after work ";
constexpr std::string_view kFlaggedInput = "I am going to kill you, you worthless idiot. ";

std::string text_of_size(std::string_view base, std::int64_t bytes) {
  std::string s;
  s.reserve(static_cast<std::size_t>(bytes));
  while (static_cast<std::int64_t>(s.size()) < bytes)
    s.append(base.substr(0, std::min<std::size_t>(base.size(), static_cast<std::size_t>(bytes) - s.size())));
  return s;
}

MessageServiceConfig service_config(const Scenario& s) {
  MessageServiceConfig c;
  c.model = s.gpu.model.name;
  c.context_window_tokens = s.gpu.model.max_context_tokens;
  c.default_max_tokens = s.traffic.max_tokens;
  c.max_backend_attempts = 2;
  c.first_token_timeout_s = 60;
  c.stall_timeout_s = 60;
  c.heartbeat_interval_s = 15;       // longer than a decode chunk: heartbeats only while queued
  c.checkpoint_tokens = 1 << 30;     // answers are checkpointed at the first token and at the end
  c.checkpoint_interval_s = 1e9;
  c.history_messages = 16;
  // The answer's final write outlasts a primary failover (zero message loss): backoff doubling from
  // 0.5 s until twice database.failover_s have passed.
  c.final_write_backoff_s = 0.5;
  c.final_write_attempts = 1 + static_cast<int>(std::ceil(std::log2(2 * s.database.failover_s / 0.5 + 1)));
  return c;
}

}  // namespace

// A conversation between its first turn and the end of its last answer.
struct LiveConversation {
  std::string id;
  std::string user;
  ConversationStart start;
  Lsn read_lsn = 0;             // the newest write of this conversation: its read-your-writes token
  double read_issued_at = 0;
  int in_flight = 0;            // turns sent and not yet answered
  bool closed = false;          // no further turns will be sent
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, const SimOptions& options) : scenario_(scenario), options_(options) {}

  Result<SimRun> run();

 private:
  Status configure();
  void build_platform();
  Status build_models();
  Status build_fleet();
  void traffic_actor();
  void conversation_actor(ConversationStart start);
  void message_actor(std::shared_ptr<LiveConversation> conv, bool first);
  void run_turn(LiveConversation& conv);
  void close(LiveConversation& conv);
  void account(const SendOutcome& out, double started, std::int64_t user_bytes);
  void ticker_actor();
  void failure_actor();
  void apply_failure(const FailureSpec& failure, bool on);
  void record_cluster(std::size_t i, double t);
  void per_second(std::vector<double>& series, double t, double amount);
  void progress(double now, bool final);

  const Scenario& scenario_;
  SimOptions options_;
  double f_ = 1;
  double duration_ = 0;
  std::uint64_t seed_ = 1;
  double start_utc_ = 0;

  SimClock sim_clock_;
  CountingClock clock_{sim_clock_};
  SimRun run_;
  std::unique_ptr<SimStores> stores_;
  std::unique_ptr<MemoryRateLimitStore> rate_store_;
  std::unique_ptr<RateLimiter> limiter_;
  ApproximateTokenizer tokenizer_{4.0};
  std::vector<std::unique_ptr<SimGpuCluster>> clusters_;
  std::optional<IterationTimeModel> time_model_;
  ModelShape shape_;
  std::vector<EngineCounters> cluster_counters_;  // at the last tick, per cluster
  std::unique_ptr<MessageService> service_;
  std::unique_ptr<ServiceTier> tier_;
  std::optional<ArrivalGenerator> arrivals_;
  std::optional<MessageSizes> sizes_;
  std::optional<TrafficRng> user_rng_;
  std::vector<s4u::Host*> region_hosts_;
  std::int64_t sampled_users_ = 1;
  ActorPool pool_{"w"};
  std::int64_t live_conversations_ = 0;
  std::int64_t live_messages_ = 0;
  double warmup_ = 0;  // simulated seconds before the reported window
  bool traffic_done_ = false;
  std::chrono::steady_clock::time_point wall_start_;
  double next_progress_wall_ = 0;
};

Status Simulation::configure() {
  f_ = options_.sample_fraction > 0 ? options_.sample_fraction : scenario_.simulation.sample_factor;
  if (!(f_ > 0 && f_ <= 1)) return invalid_argument("sample fraction must be in (0, 1], got " + std::to_string(f_));
  duration_ = options_.duration_s > 0 ? options_.duration_s : scenario_.simulation.duration_s;
  warmup_ = std::min(scenario_.simulation.warmup_s, duration_ / 2);
  seed_ = options_.seed.value_or(scenario_.simulation.seed);
  double hour = options_.start_hour.value_or(scenario_.simulation.start_hour);
  start_utc_ = std::fmod(hour, 24.0) * 3600.0;
  run_.sample_fraction = f_;
  run_.seed = seed_;
  run_.start_utc_seconds = start_utc_;
  auto seconds = static_cast<std::size_t>(std::ceil(duration_)) + 3600;
  run_.messages_per_s.assign(seconds, 0);
  run_.egress_bytes_per_s.assign(seconds, 0);
  run_.active_streams.assign(seconds, 0);
  sampled_users_ = std::max<std::int64_t>(1, std::llround(static_cast<double>(scenario_.users.daily_active) * f_));
  return Status::ok();
}

// Regions as hosts of one full zone, one link per pair with the scenario's latency and bandwidth; the
// primary, replicas and GPU clusters as hosts in their regions. Delays inside the flow come from the
// same matrix (Scenario::latency_ms) through the database and fleet models, so the platform carries
// the topology and the actors' placement rather than per-message network flows.
void Simulation::build_platform() {
  auto* zone = s4u::create_full_zone("world");
  for (const auto& r : scenario_.regions) region_hosts_.push_back(zone->create_host(r.name, 1e9)->seal());
  for (std::size_t a = 0; a < region_hosts_.size(); ++a) {
    for (std::size_t b = a; b < region_hosts_.size(); ++b) {
      auto* link = zone->create_link(region_hosts_[a]->get_name() + "--" + region_hosts_[b]->get_name(),
                                     scenario_.bandwidth_gbps(a, b) * 1e9 / 8)
                       ->set_latency(scenario_.latency_ms(a, b) / 1e3)
                       ->seal();
      zone->add_route(region_hosts_[a]->get_netpoint(), region_hosts_[b]->get_netpoint(), nullptr, nullptr,
                      {s4u::LinkInRoute(link)}, true);
    }
  }
  zone->seal();
}

Status Simulation::build_models() {
  run_.recorder = std::make_unique<Recorder>(f_);
  CS_ASSIGN_OR_RETURN(run_.database, DatabaseModel::create(scenario_, f_, run_.recorder->full_scale()));
  stores_ = std::make_unique<SimStores>(*run_.database, clock_);
  rate_store_ = std::make_unique<MemoryRateLimitStore>(clock_);
  limiter_ = std::make_unique<RateLimiter>(*rate_store_, scenario_.tiers);
  CS_RETURN_IF_ERROR(build_fleet());
  CS_ASSIGN_OR_RETURN(auto profile, DiurnalProfile::build(scenario_));
  CS_ASSIGN_OR_RETURN(auto arrivals, ArrivalGenerator::create(profile, scenario_, f_, derive_seed(seed_, 1), start_utc_));
  arrivals_.emplace(std::move(arrivals));
  CS_ASSIGN_OR_RETURN(auto sizes, MessageSizes::create(scenario_.traffic, derive_seed(seed_, 2)));
  sizes_.emplace(std::move(sizes));
  user_rng_.emplace(derive_seed(seed_, 3));
  tier_ = std::make_unique<ServiceTier>(scenario_, f_, derive_seed(seed_, 4));
  std::vector<InferenceBackend*> backends;
  for (auto& c : clusters_) backends.push_back(c.get());
  service_ = std::make_unique<MessageService>(
      MessagePorts{clock_, *stores_, *stores_, *stores_, run_.recorder->sampled(), tokenizer_, backends},
      MessageComponents{*limiter_, Moderator::builtin()}, service_config(scenario_));
  if (!Moderator::builtin().classify(kFlaggedInput).flagged)
    return internal_error("the simulator's flagged input is not flagged by the moderation lexicon");
  return Status::ok();
}

// Each cluster runs its share of the fleet's model replicas as continuous-batching engines (see
// sim/fleet/gpu_cluster.h for how a sampled run keeps each engine at its full-scale load).
Status Simulation::build_fleet() {
  const auto& gpu = scenario_.gpu;
  CS_ASSIGN_OR_RETURN(IterationTimeModel model, fleet_time_model(scenario_));
  time_model_.emplace(std::move(model));
  shape_ = gpu.model.shape();
  const int tp = static_cast<int>(std::max<std::int64_t>(1, gpu.model.tensor_parallel));
  CS_RETURN_IF_ERROR(check_tensor_parallel(shape_, tp));
  EngineReplicaConfig engine;
  engine.tensor_parallel = tp;
  engine.block_tokens = static_cast<std::int32_t>(gpu.engine.kv_block_tokens);
  engine.kv_blocks = replica_kv_blocks(shape_, time_model_->gpu(), tp, gpu.engine.memory_utilization, engine.block_tokens);
  if (engine.kv_blocks < 1)
    return invalid_argument("gpu.model: the weights of " + gpu.model.name + " at tensor_parallel " +
                            std::to_string(tp) + " leave no GPU memory for the KV cache");
  engine.scheduler.max_num_seqs = static_cast<std::int32_t>(gpu.engine.max_batch_sequences);
  engine.scheduler.max_num_batched_tokens = gpu.engine.max_batched_tokens;
  engine.scheduler.max_waiting = gpu.engine.max_waiting;
  engine.scheduler.long_prefill_token_threshold = gpu.engine.long_prefill_token_threshold;
  std::map<std::string, int, std::less<>> priority;
  for (const auto& t : scenario_.tiers) priority[t.name] = t.priority;
  std::uint64_t stream = 100;
  for (const auto& c : gpu.fleet.clusters) {
    int region = scenario_.region_index(c.region);
    if (region < 0) return invalid_argument("gpu cluster " + c.name + ": unknown region " + c.region);
    GpuClusterConfig cfg;
    cfg.name = c.name;
    cfg.region = c.region;
    cfg.full_replicas = static_cast<double>(gpu.fleet.gpus) * c.gpu_share / tp;
    ReplicaSampling sampling = replica_sampling(cfg.full_replicas, f_, static_cast<int>(gpu.engine.min_simulated_replicas));
    cfg.simulated_replicas = sampling.simulated_replicas;
    cfg.background_per_request = sampling.background_per_request;
    cfg.engine = engine;
    cfg.chunk_s = gpu.engine.stream_chunk_s;
    const auto& t = scenario_.traffic;
    cfg.wire_bytes_per_answer_byte = t.assistant_response.mean_bytes > 0 ? t.stream_bytes / t.assistant_response.mean_bytes : 1;
    cfg.output_flag_rate = scenario_.moderation.output_flag_rate;
    cfg.tier_priority = priority;
    cfg.seed = derive_seed(seed_, stream++);
    CS_ASSIGN_OR_RETURN(MessageSizes sizes, MessageSizes::create(t, derive_seed(seed_, stream++)));
    s4u::Host* host = region_hosts_[static_cast<std::size_t>(region)];
    Spawner spawn = [host](const std::string& name, std::function<void()> body) {
      s4u::Actor::create(name, host, std::move(body))->daemonize();
    };
    clusters_.push_back(std::make_unique<SimGpuCluster>(clock_, spawn, cfg, shape_, *time_model_, std::move(sizes)));
  }
  if (clusters_.empty()) return invalid_argument("gpu.fleet.clusters: the fleet has no cluster");
  cluster_counters_.assign(clusters_.size(), EngineCounters{});
  FleetStats& f = run_.fleet;
  f.tensor_parallel = tp;
  f.kv_blocks_per_replica = engine.kv_blocks;
  f.kv_block_tokens = engine.block_tokens;
  for (const auto& c : clusters_) {
    f.engines += c->config().simulated_replicas;
    f.full_replicas += c->config().full_replicas;
  }
  return Status::ok();
}

void Simulation::traffic_actor() {
  for (;;) {
    ConversationStart c = arrivals_->next();
    if (c.time_s >= duration_) break;
    clock_.sleep_until(c.time_s);
    ++live_conversations_;
    pool_.submit(region_hosts_[static_cast<std::size_t>(c.region)], [this, c] { conversation_actor(c); });
  }
  traffic_done_ = true;
  // Pool workers are daemons: this actor keeps the simulation alive until the last answer is in.
  while (live_conversations_ > 0) clock_.sleep_for(1.0);
  // The engine actors end on their own rather than being killed inside a wait.
  for (auto& c : clusters_) c->stop();
  clock_.sleep_for(1e-6);
}

// A conversation's turns are sent on the user's schedule: each turn follows the previous one after the
// time it takes to read an answer (traffic.stream_duration_s) and a think time, whether or not the
// service has answered yet. The offered load thus follows the traffic profile exactly, and a slow
// service shows as latency and open streams rather than as a quietly lower message rate.
void Simulation::conversation_actor(ConversationStart start) {
  auto conv = std::make_shared<LiveConversation>();
  conv->user = "u" + std::to_string(static_cast<std::int64_t>(user_rng_->uniform() * static_cast<double>(sampled_users_)));
  conv->start = start;
  double next = clock_.now();
  for (int turn = 0; turn < start.turns && next < duration_; ++turn) {
    clock_.sleep_until(next);
    // Offered load: the user sends now, whatever the service does with it.
    per_second(run_.messages_per_s, clock_.now(), 1 / f_);
    // The conversation's row is written by its first message (see run_turn), so a slow database
    // delays that message, not the user's schedule.
    if (turn == 0) conv->id = stores_->open_conversation(conv->user, start.region, clock_.now());
    ++conv->in_flight;
    pool_.submit(s4u::this_actor::get_host(), [this, conv, first = turn == 0] { message_actor(conv, first); });
    next += scenario_.traffic.stream_duration_s + arrivals_->think_time_s();
  }
  conv->closed = true;
  if (conv->in_flight == 0) close(*conv);
}

void Simulation::message_actor(std::shared_ptr<LiveConversation> conv, bool first) {
  ++live_messages_;
  if (first) {
    // POST /conversations before the first message: one durable write of the conversation row.
    auto created = stores_->rename_conversation(conv->user, conv->id, "conversation", clock_.now());
    if (created.is_ok()) {
      conv->read_lsn = std::max(conv->read_lsn, created->lsn);
      conv->read_issued_at = clock_.now();
    }
  }
  run_turn(*conv);
  --live_messages_;
  if (--conv->in_flight == 0 && conv->closed) close(*conv);
}

void Simulation::close(LiveConversation& conv) {
  if (!conv.id.empty()) stores_->forget_conversation(conv.id);
  --live_conversations_;
}

void Simulation::run_turn(LiveConversation& conv) {
  const ConversationStart& start = conv.start;
  std::int64_t bytes = sizes_->user_message_bytes();
  bool flagged = sizes_->draw(scenario_.moderation.input_flag_rate);
  SendRequest request;
  request.caller.user_id = conv.user;
  request.caller.tier = scenario_.tiers[static_cast<std::size_t>(start.tier)].name;
  request.caller.region = scenario_.regions[static_cast<std::size_t>(start.region)].name;
  request.caller.read_lsn = conv.read_lsn;
  request.caller.read_token_issued_at = conv.read_issued_at;
  request.conversation_id = conv.id;
  request.content = flagged ? text_of_size(kFlaggedInput, std::max<std::int64_t>(bytes, 48)) : text_of_size(kFiller, bytes);
  request.max_tokens = scenario_.traffic.max_tokens;
  double started = clock_.now();
  // The region's API tier: queue for a core and do the request's CPU work, or refuse (503).
  auto gateway = tier_->admit(start.region, started);
  if (!gateway.is_ok()) {
    SendOutcome refused;
    refused.status = gateway.status();
    run_.recorder->sampled().add(MetricId::kMessages, {request.caller.tier, "overloaded"}, 1);
    if (started >= warmup_) account(refused, started, 0);
    return;
  }
  clock_.sleep_for(*gateway);
  SimSink sink(clock_);
  tier_->stream_opened(start.region);
  SendOutcome out = service_->send(request, sink);
  tier_->stream_closed(start.region);
  if (out.ttft_s >= 0) out.ttft_s += *gateway;  // the user waits for the gateway too
  if (started >= warmup_ && sink.opened_at >= 0 && sink.closed_at >= sink.opened_at) {
    run_.counts.streams += 1;
    run_.counts.stream_seconds += sink.closed_at - sink.opened_at;
  }
  if (out.lsn > conv.read_lsn) {
    conv.read_lsn = out.lsn;
    conv.read_issued_at = clock_.now();
  }
  if (started >= warmup_) account(out, started, static_cast<std::int64_t>(request.content.size()));
}

void Simulation::account(const SendOutcome& out, double started, std::int64_t user_bytes) {
  auto& c = run_.counts;
  double now = clock_.now();
  c.sampled_messages += 1;
  switch (out.status.code()) {
    case StatusCode::kOk:
      c.ok += 1;
      if (out.assistant_message.finish_reason == FinishReason::kContentFilter) c.content_filtered += 1;
      break;
    case StatusCode::kRateLimited: c.rate_limited += 1; break;
    case StatusCode::kInvalidArgument: (out.flagged_categories.empty() ? c.invalid : c.moderated) += 1; break;
    default: c.failed += 1; break;
  }
  if (!out.user_message.id.empty()) c.stored_bytes += static_cast<double>(user_bytes);
  double answer_tokens = static_cast<double>(out.assistant_message.usage.completion_tokens);
  c.stored_bytes += answer_tokens * scenario_.traffic.bytes_per_token;
  if (out.ttft_s >= 0) {
    run_.recorder->sample(SampleKind::kTimeToFirstToken, out.ttft_s, started);
    run_.recorder->sample(SampleKind::kE2eLatency, now - started, started);
    double first = started + out.ttft_s;
    double wire = answer_tokens * scenario_.traffic.bytes_per_token *
                  (scenario_.traffic.assistant_response.mean_bytes > 0
                       ? scenario_.traffic.stream_bytes / scenario_.traffic.assistant_response.mean_bytes : 1);
    // Spread the answer's bytes over the seconds it streamed.
    double span = std::max(now - first, 1e-9);
    for (double t = first; t < now; t = std::floor(t) + 1)
      per_second(run_.egress_bytes_per_s, t, wire / f_ * (std::min(std::floor(t) + 1, now) - t) / span);
  }
}

void Simulation::per_second(std::vector<double>& series, double t, double amount) {
  auto i = static_cast<std::size_t>(std::max(0.0, t));
  if (i < series.size()) series[i] += amount;
}

// Once per simulated second: replication, fleet gauges, stream counts; a metrics snapshot at the
// scenario's interval; progress on stderr. A daemon: it ends with the last conversation.
void Simulation::ticker_actor() {
  const double interval = std::max(1.0, scenario_.simulation.metrics_interval_s);
  double next_snapshot = 0;
  for (double t = 1;; t += 1) {
    clock_.sleep_until(t);
    run_.database->tick(t);
    for (std::size_t i = 0; i < clusters_.size(); ++i) record_cluster(i, t);
    per_second(run_.active_streams, t - 1, run_.recorder->value(MetricId::kActiveStreams));
    if (t >= next_snapshot) {
      run_.recorder->snapshot(t);
      next_snapshot = t + interval;
    }
    progress(t, false);
  }
}

// A cluster's gauges (scaled to its full-scale replicas) and, from the counters' change over the last
// second, its engines' busy share, mean decode batch and iteration time.
void Simulation::record_cluster(std::size_t i, double t) {
  auto& full = run_.recorder->full_scale();
  const SimGpuCluster& c = *clusters_[i];
  const std::string& name = c.name();
  const EngineCounters now = c.counters().engines;
  EngineCounters& before = cluster_counters_[i];
  const double engines = static_cast<double>(c.config().simulated_replicas);
  const double iterations = static_cast<double>(now.iterations - before.iterations);
  full.set(MetricId::kGpuRunningSequences, {name}, c.running());
  full.set(MetricId::kGpuWaitingSequences, {name}, c.waiting());
  full.set(MetricId::kGpuKvCacheUsage, {name}, c.kv_usage());
  full.set(MetricId::kGpuUtilization, {name}, std::min(1.0, (now.busy_s - before.busy_s) / engines));
  full.set(MetricId::kGpus, {name}, c.down() ? 0 : c.config().full_replicas * static_cast<double>(scenario_.gpu.model.tensor_parallel));
  if (iterations > 0) {
    full.observe(MetricId::kGpuBatchSize, {name}, static_cast<double>(now.decode_sequences - before.decode_sequences) / iterations);
    full.observe(MetricId::kGpuIterationDuration, {name}, (now.busy_s - before.busy_s) / iterations);
  }
  if (t > warmup_ && t <= duration_) {  // the figures' window
    FleetStats& f = run_.fleet;
    f.window_s = std::max(f.window_s, t - warmup_);
    f.iterations += now.iterations - before.iterations;
    f.busy_s += now.busy_s - before.busy_s;
    f.generated_tokens += now.generated_tokens - before.generated_tokens;
    f.decode_sequences += now.decode_sequences - before.decode_sequences;
    f.prompt_tokens += now.prompt_tokens - before.prompt_tokens;
  }
  before = now;
}

void Simulation::apply_failure(const FailureSpec& failure, bool on) {
  switch (failure.kind) {
    case FailureKind::kPrimaryDown: run_.database->set_primary_down(on); break;
    case FailureKind::kReplicaDown:
      for (const auto& r : run_.database->replicas())
        if (scenario_.regions[static_cast<std::size_t>(r.region)].name == failure.target)
          (void)run_.database->set_replica_down(r.name, on, clock_.now());
      break;
    case FailureKind::kGpuClusterDown:
      for (auto& c : clusters_)
        if (c->name() == failure.target) c->set_down(on);
      break;
    case FailureKind::kRegionDown:
      for (auto& c : clusters_)
        if (c->config().region == failure.target) c->set_down(on);
      for (const auto& r : run_.database->replicas())
        if (scenario_.regions[static_cast<std::size_t>(r.region)].name == failure.target)
          (void)run_.database->set_replica_down(r.name, on, clock_.now());
      break;
    case FailureKind::kServiceHostsDown:
      if (int r = scenario_.region_index(failure.target); r >= 0) tier_->set_hosts_down(r, on ? failure.fraction : 0);
      break;
    case FailureKind::kLinkDown:
      break;  // not modelled yet: the report lists it as such
  }
}

void Simulation::failure_actor() {
  std::vector<std::pair<double, std::pair<const FailureSpec*, bool>>> events;
  for (const auto& f : scenario_.availability.failures) {
    events.push_back({f.at_s, {&f, true}});
    events.push_back({f.at_s + f.duration_s, {&f, false}});
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [at, what] : events) {
    clock_.sleep_until(at);
    apply_failure(*what.first, what.second);
  }
}

void Simulation::progress(double now, bool final) {
  if (!options_.progress) return;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  if (!final && wall < next_progress_wall_) return;
  next_progress_wall_ = wall + 1.0;
  double rate = wall > 0 ? run_.counts.sampled_messages / wall : 0;
  double eta = now > 0 ? wall * (duration_ - now) / now : 0;
  std::fprintf(stderr, "\r[sim] t=%7.0fs/%.0fs  %9.0f messages  %7.0f msg/s wall  %8.0f events/s  ETA %5.0fs ",
               now, duration_, run_.counts.sampled_messages, rate, wall > 0 ? static_cast<double>(clock_.events) / wall : 0,
               std::max(0.0, eta));
  if (final) std::fputc('\n', stderr);
  std::fflush(stderr);
}

Result<SimRun> Simulation::run() {
  CS_RETURN_IF_ERROR(configure());
  std::string stack = "--cfg=contexts/stack-size:" + std::to_string(options_.actor_stack_kib);
  std::vector<std::string> argv_store = {"chatscale-sim", stack, "--cfg=contexts/guard-size:0",
                                         "--log=root.thres:critical"};
#if defined(__SANITIZE_ADDRESS__)
  argv_store.push_back("--cfg=contexts/factory:thread");  // ASan cannot follow SimGrid's stack switching
#endif
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  s4u::Engine engine(&argc, argv.data());
  build_platform();
  CS_RETURN_IF_ERROR(build_models());
  s4u::Host* home = region_hosts_.front();
  s4u::Actor::create("traffic", home, [this] { traffic_actor(); });
  s4u::Actor::create("ticker", home, [this] { ticker_actor(); })->daemonize();
  s4u::Actor::create("failures", home, [this] { failure_actor(); })->daemonize();
  wall_start_ = std::chrono::steady_clock::now();
  run_.recorder->snapshot(0);
  engine.run();
  double end = s4u::Engine::get_clock();
  run_.recorder->snapshot(end);
  progress(end, true);
  run_.simulated_seconds = end;
  run_.warmup_s = warmup_;
  run_.window_end_s = duration_;
  run_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  run_.events = clock_.events;
  run_.peak_live_actors = pool_.peak_busy();
  for (const auto& cl : clusters_) {
    run_.fleet.background_started += cl->counters().background_started;
    run_.fleet.background_refused += cl->counters().background_refused;
  }
  run_.counts.lost = run_.recorder->value(MetricId::kMessagesLost);
  // Counts so far are of sampled tasks: scale them to the full system.
  auto& c = run_.counts;
  for (double* v : {&c.messages, &c.ok, &c.content_filtered, &c.rate_limited, &c.moderated, &c.invalid, &c.failed,
                    &c.stored_bytes, &c.conversations})
    *v /= f_;
  c.messages = c.sampled_messages / f_;
  return std::move(run_);
}

Result<SimRun> run_simulation(const Scenario& scenario, const SimOptions& options) {
  Simulation simulation(scenario, options);
  return simulation.run();
}

}  // namespace chatscale::sim
