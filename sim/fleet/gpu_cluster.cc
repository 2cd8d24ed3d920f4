#include "sim/fleet/gpu_cluster.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace chatscale::sim {
namespace {

constexpr double kForever = std::numeric_limits<double>::infinity();
constexpr std::size_t kRecentPrompts = 256;
// A flagged answer carries these words in its first decode chunk, so the shared output moderation sees them.
constexpr const char* kFlaggedAnswer = " I will kill you and your whole family.";

}  // namespace

// Notifies a signal that its waiter may destroy as soon as it wakes: notify() can yield inside (a
// SimGrid mutex), so the notifier holds its own reference until notify() returns.
void notify(const std::shared_ptr<Signal>& signal) {
  if (!signal) return;
  std::shared_ptr<Signal> keep = signal;
  keep->notify();
}

ReplicaSampling replica_sampling(double full_replicas, double f, int min_replicas) {
  ReplicaSampling r;
  const double sampled = std::max(1e-12, full_replicas * f);
  r.simulated_replicas = std::max(std::max(1, min_replicas), static_cast<int>(std::ceil(sampled - 1e-9)));
  r.background_per_request = std::max(0.0, r.simulated_replicas / sampled - 1.0);
  return r;
}

struct SimGpuCluster::Track {
  RequestId id = 0;
  std::size_t engine = 0;
  std::shared_ptr<Signal> waiter;  // set while the stream waits; the engine notifies it (shared: see notify())
  std::int64_t generated = 0;
  bool finished = false;
  std::uint64_t epoch = 0;
};

struct BackgroundArrival {
  double at = 0;
  Scheduler::Request request;
  bool operator>(const BackgroundArrival& o) const { return at > o.at; }
};

struct SimGpuCluster::Engine {
  std::size_t index = 0;
  EngineReplica replica;
  std::shared_ptr<Signal> wake;  // set while the actor idles; enqueue notifies it (shared: see notify())
  std::priority_queue<BackgroundArrival, std::vector<BackgroundArrival>, std::greater<>> pending;

  Engine(std::size_t i, const ModelShape& shape, const IterationTimeModel& model, const EngineReplicaConfig& c)
      : index(i), replica(shape, model, c) {}
};

// One sampled generation: queued and prefilling until its first token, then aggregated chunks, then done.
class SimGpuStream : public InferenceStream {
 public:
  SimGpuStream(SimGpuCluster& cluster, std::unique_ptr<SimGpuCluster::Track> track, std::int64_t prompt,
               std::int64_t answer, bool truncated, bool flagged)
      : cluster_(cluster), track_(std::move(track)), prompt_(prompt), answer_(answer), truncated_(truncated),
        flagged_(flagged) {}
  ~SimGpuStream() override { cancel(); }

  Result<InferenceEvent> next(double deadline) override {
    if (done_) return failed_precondition("stream finished");
    const double until = deadline > 0 ? deadline : kForever;
    if (emitted_ == 0) {
      if (!wait(until)) return deadline_exceeded("waiting for the first token");
      if (cluster_.epoch_ != track_->epoch) return fail();
      next_chunk_at_ = cluster_.clock_.now() + cluster_.config_.chunk_s;
      return delta(1);
    }
    if (!track_->finished) {
      wait(std::min(until, next_chunk_at_));
      if (cluster_.epoch_ != track_->epoch) return fail();
    }
    if (track_->generated > emitted_) {
      next_chunk_at_ = cluster_.clock_.now() + cluster_.config_.chunk_s;
      return delta(track_->generated - emitted_);
    }
    if (track_->finished) {
      finish();
      return InferenceEvent::done(Usage{prompt_, emitted_}, truncated_ ? FinishReason::kLength : FinishReason::kStop);
    }
    return deadline_exceeded("generating");
  }

  void cancel() override {
    if (done_) return;
    if (!track_->finished && cluster_.epoch_ == track_->epoch)
      (void)cluster_.engines_[track_->engine]->replica.cancel(track_->id);
    finish();
  }

 private:
  // Waits for the engine to advance this request (first token or end), or until `until`; true when
  // there is news.
  bool wait(double until) {
    if (track_->generated > emitted_ && emitted_ == 0) return true;
    if (track_->finished || cluster_.epoch_ != track_->epoch) return true;
    // Making the signal may yield (see engine_loop), so the news is looked at again before waiting.
    auto waiter = std::shared_ptr<Signal>(cluster_.clock_.make_signal());
    track_->waiter = waiter;
    const bool news = [&] {
      return (emitted_ == 0 && track_->generated > 0) || track_->finished || cluster_.epoch_ != track_->epoch;
    }();
    const bool woke = news || waiter->wait_until(until);
    track_->waiter.reset();
    return woke || track_->generated > emitted_ || track_->finished;
  }

  InferenceEvent delta(std::int64_t tokens) {
    emitted_ += tokens;
    InferenceEvent e;
    e.kind = InferenceEvent::Kind::kDelta;
    e.tokens = tokens;
    const double answer_bytes = static_cast<double>(tokens) * cluster_.sizes_.bytes_per_token();
    e.bytes = static_cast<std::int64_t>(answer_bytes * cluster_.config_.wire_bytes_per_answer_byte);
    if (flagged_ && emitted_ > 1) {
      e.text = kFlaggedAnswer;
      flagged_ = false;
    }
    return e;
  }

  InferenceEvent fail() {
    finish();
    return InferenceEvent::failure(unavailable("GPU cluster " + cluster_.name() + " went down"));
  }

  void finish() {
    if (done_) return;
    done_ = true;
    cluster_.forget(*track_);
  }

  SimGpuCluster& cluster_;
  std::unique_ptr<SimGpuCluster::Track> track_;
  std::int64_t prompt_ = 1;
  std::int64_t answer_ = 1;
  bool truncated_ = false;
  bool flagged_ = false;
  bool done_ = false;
  std::int64_t emitted_ = 0;
  double next_chunk_at_ = 0;
};

SimGpuCluster::SimGpuCluster(Clock& clock, Spawner spawner, GpuClusterConfig config, const ModelShape& shape,
                             const IterationTimeModel& model, MessageSizes sizes)
    : clock_(clock),
      spawner_(std::move(spawner)),
      config_(std::move(config)),
      shape_(shape),
      model_(model),
      sizes_(std::move(sizes)),
      rng_(config_.seed) {
  config_.simulated_replicas = std::max(1, config_.simulated_replicas);
  for (int i = 0; i < config_.simulated_replicas; ++i) {
    engines_.push_back(std::make_unique<Engine>(static_cast<std::size_t>(i), shape_, model_, config_.engine));
    Engine* e = engines_.back().get();
    spawner_(config_.name + "/engine" + std::to_string(i), [this, e] { engine_loop(*e); });
  }
}

SimGpuCluster::~SimGpuCluster() = default;

void SimGpuCluster::stop() {
  stopped_ = true;
  for (auto& e : engines_)
    notify(e->wake);
}

// The engine actor: while there is work, plan an iteration, sleep its predicted duration, apply it.
// Idle, it sleeps until a request arrives or its next background arrival is due.
void SimGpuCluster::engine_loop(Engine& engine) {
  while (!stopped_) {
    const double now = clock_.now();
    admit_background(engine, now);
    std::optional<double> dt = engine.replica.begin_iteration(now);
    if (!dt) {
      // Making a signal may yield to other actors (SimGrid creates its mutex with a simcall), so the
      // work is looked at again once the signal is in place, before waiting on it.
      auto wake = std::shared_ptr<Signal>(clock_.make_signal());
      engine.wake = wake;
      const double next_background = engine.pending.empty() ? kForever : engine.pending.top().at;
      if (engine.replica.idle() && !stopped_ && next_background > clock_.now()) wake->wait_until(next_background);
      engine.wake.reset();
      continue;
    }
    const std::uint64_t epoch = epoch_;
    clock_.sleep_until(now + *dt);
    IterationOutcome outcome = engine.replica.end_iteration(clock_.now());
    if (epoch == epoch_) apply(engine, outcome);
  }
}

void SimGpuCluster::admit_background(Engine& engine, double now) {
  while (!engine.pending.empty() && engine.pending.top().at <= now) {
    Scheduler::Request r = engine.pending.top().request;
    engine.pending.pop();
    if (down_) continue;
    if (engine.replica.enqueue(r, now).is_ok()) ++counters_.background_started;
    else ++counters_.background_refused;
  }
}

void SimGpuCluster::apply(Engine& engine, const IterationOutcome& outcome) {
  (void)engine;
  for (RequestId id : outcome.sampled) {
    auto it = tracks_.find(id);
    if (it == tracks_.end()) continue;  // background
    Track& t = *it->second;
    ++t.generated;
    if (t.generated == 1) notify(t.waiter);
  }
  for (const auto& f : outcome.finished) {
    auto it = tracks_.find(f.id);
    if (it == tracks_.end()) continue;
    it->second->finished = true;
    notify(it->second->waiter);
  }
}

void SimGpuCluster::forget(Track& track) { tracks_.erase(track.id); }

SimGpuCluster::Engine& SimGpuCluster::least_loaded() {
  Engine* best = engines_.front().get();
  for (auto& e : engines_)
    if (e->replica.live() < best->replica.live()) best = e.get();
  return *best;
}

Status SimGpuCluster::enqueue(Engine& engine, const Scheduler::Request& request, double now) {
  CS_RETURN_IF_ERROR(engine.replica.enqueue(request, now));
  notify(engine.wake);
  return Status::ok();
}

std::int64_t SimGpuCluster::draw_answer_tokens(std::int64_t max_tokens, bool& truncated) {
  std::int64_t tokens = std::max<std::int64_t>(1, sizes_.tokens(sizes_.answer_bytes()));
  truncated = max_tokens > 0 && tokens >= max_tokens;
  return truncated ? max_tokens : tokens;
}

// Background requests for one sampled arrival: Poisson(b) of them, spread uniformly over the mean gap
// between sampled arrivals, each to the least-loaded engine at the time it is drawn.
void SimGpuCluster::spawn_background(const InferenceRequest& request, double now) {
  if (last_start_ >= 0) {
    const double gap = now - last_start_;
    mean_gap_s_ = mean_gap_s_ == 0 ? gap : 0.95 * mean_gap_s_ + 0.05 * gap;
  }
  last_start_ = now;
  if (recent_prompts_.size() < kRecentPrompts) recent_prompts_.push_back(request.prompt_tokens);
  else recent_prompts_[recent_next_++ % kRecentPrompts] = request.prompt_tokens;
  if (config_.background_per_request <= 0) return;
  const std::int64_t n = rng_.poisson(config_.background_per_request);
  for (std::int64_t i = 0; i < n; ++i) {
    BackgroundArrival a;
    a.at = now + rng_.uniform() * mean_gap_s_;
    bool truncated = false;
    a.request.id = next_id_++;
    a.request.arrival_time = a.at;
    a.request.prompt_tokens = std::max<std::int64_t>(
        1, recent_prompts_[static_cast<std::size_t>(rng_.uniform() * static_cast<double>(recent_prompts_.size()))]);
    a.request.max_new_tokens = draw_answer_tokens(request.max_tokens, truncated);
    Engine& e = least_loaded();
    e.pending.push(a);
    notify(e.wake);
  }
}

Result<std::unique_ptr<InferenceStream>> SimGpuCluster::start(const InferenceRequest& request) {
  if (down_) {
    ++counters_.refused;
    return unavailable("GPU cluster " + config_.name + " is down");
  }
  const double now = clock_.now();
  spawn_background(request, now);
  bool truncated = false;
  Scheduler::Request r;
  r.id = next_id_++;
  r.arrival_time = now;
  r.prompt_tokens = std::max<std::int64_t>(1, request.prompt_tokens);
  r.max_new_tokens = draw_answer_tokens(request.max_tokens, truncated);
  auto p = config_.tier_priority.find(request.tier);
  r.priority = p == config_.tier_priority.end() ? 0 : p->second;
  Engine& engine = least_loaded();
  Status admitted = enqueue(engine, r, now);
  if (!admitted.is_ok()) {
    ++counters_.refused;
    if (admitted.code() == StatusCode::kUnavailable)
      return unavailable("GPU cluster " + config_.name + " queue is full");
    return admitted;
  }
  auto track = std::make_unique<Track>();
  track->id = r.id;
  track->engine = engine.index;
  track->epoch = epoch_;
  tracks_[r.id] = track.get();
  const bool flagged = rng_.bernoulli(config_.output_flag_rate);
  std::unique_ptr<InferenceStream> stream =
      std::make_unique<SimGpuStream>(*this, std::move(track), r.prompt_tokens, r.max_new_tokens, truncated, flagged);
  return stream;
}

BackendLoad SimGpuCluster::load() const {
  std::int64_t live = 0;
  for (const auto& e : engines_) live += static_cast<std::int64_t>(e->replica.live());
  const auto& s = config_.engine.scheduler;
  const std::int64_t capacity = static_cast<std::int64_t>(engines_.size()) * (s.max_num_seqs + s.max_waiting);
  return BackendLoad{!down_, live, capacity, config_.region};
}

ClusterCounters SimGpuCluster::counters() const {
  ClusterCounters c = counters_;
  for (const auto& e : engines_) {
    const EngineCounters& r = e->replica.counters();
    c.engines.iterations += r.iterations;
    c.engines.busy_s += r.busy_s;
    c.engines.prompt_tokens += r.prompt_tokens;
    c.engines.generated_tokens += r.generated_tokens;
    c.engines.decode_sequences += r.decode_sequences;
  }
  return c;
}

double SimGpuCluster::running() const {
  double n = 0;
  for (const auto& e : engines_) n += static_cast<double>(e->replica.stats().running);
  return n * scale();
}

double SimGpuCluster::waiting() const {
  double n = 0;
  for (const auto& e : engines_) n += static_cast<double>(e->replica.stats().waiting);
  return n * scale();
}

double SimGpuCluster::kv_usage() const {
  double sum = 0;
  for (const auto& e : engines_) sum += e->replica.stats().kv_usage;
  return sum / static_cast<double>(engines_.size());
}

void SimGpuCluster::set_down(bool down) {
  if (down && !down_) {
    ++epoch_;
    for (auto& e : engines_) {
      e->replica.reset();
      while (!e->pending.empty()) e->pending.pop();
    }
    // Every waiting stream wakes and fails; the others fail at their next call.
    for (auto& [id, t] : tracks_)
      notify(t->waiter);
  }
  down_ = down;
}

}  // namespace chatscale::sim
