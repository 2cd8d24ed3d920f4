#include "sim/fleet/gpu_cluster.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace chatscale::sim {

GpuTimingModel GpuTimingModel::from(const ModelSpec& model) {
  GpuTimingModel t;
  t.weight_bytes_per_gpu = model.weight_bytes_per_gpu();
  t.kv_bytes_per_token_per_gpu = model.kv_bytes_per_token_per_gpu();
  t.parameters = model.parameters();
  t.tensor_parallel = static_cast<double>(std::max<std::int64_t>(1, model.tensor_parallel));
  return t;
}

double GpuTimingModel::decode_step_s(double batch, double context_tokens) const {
  double bytes = weight_bytes_per_gpu + std::max(1.0, batch) * context_tokens * kv_bytes_per_token_per_gpu;
  return bytes / (hbm_bytes_per_s * memory_efficiency);
}

double GpuTimingModel::prefill_s(double prompt_tokens) const {
  double flops = 2.0 * parameters * std::max(1.0, prompt_tokens);
  // A prefill never beats reading the weights once.
  return std::max(flops / (tensor_parallel * dense_flops * compute_efficiency), decode_step_s(1, prompt_tokens));
}

struct SimGpuCluster::Waiter {
  std::unique_ptr<Signal> signal;
  bool admitted = false;
  bool cancelled = false;
};

// One generation on a cluster: queued, then prefill, then decode in aggregated chunks, then done.
class SimGpuStream : public InferenceStream {
 public:
  SimGpuStream(SimGpuCluster& cluster, const InferenceRequest& request) : cluster_(cluster), epoch_(cluster.epoch_) {
    const auto& c = cluster.config_;
    prompt_tokens_ = std::max<std::int64_t>(1, request.prompt_tokens);
    double bytes = draw_size(cluster.rng_, c.answer_bytes_mean, c.answer_distribution, c.answer_sigma);
    total_tokens_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(bytes / c.bytes_per_token)));
    if (request.max_tokens > 0 && total_tokens_ >= request.max_tokens) {
      total_tokens_ = request.max_tokens;
      truncated_ = true;
    }
    flagged_ = cluster.rng_.bernoulli(c.output_flag_rate);
    if (cluster.running_ < cluster.config_.slots && cluster.queue_.empty()) {
      ++cluster.running_;
      admit();
    } else {
      waiter_ = std::make_shared<SimGpuCluster::Waiter>();
      waiter_->signal = cluster.clock_.make_signal();
      cluster.queue_.push_back(waiter_);
    }
  }
  ~SimGpuStream() override { cancel(); }

  Result<InferenceEvent> next(double deadline) override {
    if (state_ == State::kDone) return failed_precondition("stream finished");
    if (cluster_.epoch_ != epoch_) return fail("GPU cluster " + cluster_.name() + " went down");
    if (state_ == State::kQueued) {
      double until = deadline > 0 ? deadline : std::numeric_limits<double>::infinity();
      if (!waiter_->signal->wait_until(until)) return deadline_exceeded("queued for a GPU");
      if (cluster_.epoch_ != epoch_) return fail("GPU cluster " + cluster_.name() + " went down");
      waiter_.reset();
      admit();
    }
    if (deadline > 0 && due_ > deadline) {
      cluster_.clock_.sleep_until(deadline);
      return deadline_exceeded("generating");
    }
    cluster_.clock_.sleep_until(due_);
    if (cluster_.epoch_ != epoch_) return fail("GPU cluster " + cluster_.name() + " went down");
    return produce();
  }

  void cancel() override {
    if (state_ == State::kDone) return;
    if (state_ == State::kQueued) {
      waiter_->cancelled = true;
    } else {
      cluster_.release_slot();
    }
    state_ = State::kDone;
  }

 private:
  enum class State { kQueued, kPrefill, kDecode, kDone };

  static double draw_size(TrafficRng& rng, double mean, SizeDistribution d, double sigma) {
    switch (d) {
      case SizeDistribution::kFixed: return mean;
      case SizeDistribution::kExponential: return rng.exponential(mean);
      case SizeDistribution::kLognormal: return std::exp(std::log(mean) - sigma * sigma / 2 + sigma * rng.normal());
    }
    return mean;
  }

  void admit() {
    state_ = State::kPrefill;
    due_ = cluster_.clock_.now() + cluster_.config_.network_rtt_s + cluster_.timing_.prefill_s(static_cast<double>(prompt_tokens_));
  }

  double wire_bytes(std::int64_t tokens) const {
    const auto& c = cluster_.config_;
    return static_cast<double>(tokens) * c.bytes_per_token * c.wire_bytes_per_answer_byte;
  }

  InferenceEvent produce() {
    if (state_ == State::kPrefill) {
      state_ = State::kDecode;
      emitted_ = 1;
      schedule_chunk();
      return delta(1);
    }
    if (chunk_tokens_ > 0) {
      std::int64_t n = chunk_tokens_;
      emitted_ += n;
      schedule_chunk();
      return delta(n);
    }
    finish();
    return InferenceEvent::done(Usage{prompt_tokens_, emitted_}, truncated_ ? FinishReason::kLength : FinishReason::kStop);
  }

  // The next chunk: as many tokens as fit in chunk_s at the current batch's step time.
  void schedule_chunk() {
    std::int64_t remaining = total_tokens_ - emitted_;
    double batch = static_cast<double>(cluster_.running_) / std::max(1e-9, cluster_.config_.replicas);
    double step = cluster_.timing_.decode_step_s(batch, static_cast<double>(prompt_tokens_ + emitted_));
    auto fit = static_cast<std::int64_t>(cluster_.config_.chunk_s / step);
    chunk_tokens_ = std::min(remaining, std::max<std::int64_t>(1, fit));
    due_ = cluster_.clock_.now() + (remaining > 0 ? static_cast<double>(chunk_tokens_) * step : 0.0);
  }

  // Aggregated deltas carry no text, only what it weighs; a flagged answer carries its flagged words
  // in the first decode chunk so that the shared output moderation sees them.
  InferenceEvent delta(std::int64_t tokens) {
    InferenceEvent e;
    e.kind = InferenceEvent::Kind::kDelta;
    e.tokens = tokens;
    e.bytes = static_cast<std::int64_t>(wire_bytes(tokens));
    if (flagged_ && emitted_ > 1) {
      e.text = kFlaggedAnswer;
      flagged_ = false;
    }
    return e;
  }

  InferenceEvent fail(std::string why) {
    finish();
    return InferenceEvent::failure(unavailable(std::move(why)));
  }

  void finish() {
    if (state_ == State::kDone) return;
    if (state_ != State::kQueued) cluster_.release_slot();
    else if (waiter_) waiter_->cancelled = true;
    state_ = State::kDone;
  }

  static constexpr const char* kFlaggedAnswer = " I will kill you and your whole family.";

  SimGpuCluster& cluster_;
  std::uint64_t epoch_;
  State state_ = State::kQueued;
  std::shared_ptr<SimGpuCluster::Waiter> waiter_;
  std::int64_t prompt_tokens_ = 1;
  std::int64_t total_tokens_ = 1;
  std::int64_t emitted_ = 0;
  std::int64_t chunk_tokens_ = 0;
  double due_ = 0;
  bool truncated_ = false;
  bool flagged_ = false;
};

SimGpuCluster::SimGpuCluster(Clock& clock, GpuClusterConfig config, GpuTimingModel timing)
    : clock_(clock), config_(std::move(config)), timing_(timing), rng_(config_.seed) {}

SimGpuCluster::~SimGpuCluster() = default;

BackendLoad SimGpuCluster::load() const {
  return BackendLoad{!down_, running_ + waiting(), config_.slots, config_.region};
}

double SimGpuCluster::utilization() const {
  return config_.slots > 0 ? static_cast<double>(running_) / static_cast<double>(config_.slots) : 0;
}

Result<std::unique_ptr<InferenceStream>> SimGpuCluster::start(const InferenceRequest& request) {
  if (down_) return unavailable("GPU cluster " + config_.name + " is down");
  bool must_queue = running_ >= config_.slots || !queue_.empty();
  if (must_queue && static_cast<std::int64_t>(queue_.size()) >= config_.max_waiting)
    return unavailable("GPU cluster " + config_.name + " queue is full");
  std::unique_ptr<InferenceStream> stream = std::make_unique<SimGpuStream>(*this, request);
  return stream;
}

void SimGpuCluster::release_slot() {
  --running_;
  admit_next();
}

void SimGpuCluster::admit_next() {
  while (running_ < config_.slots && !queue_.empty()) {
    auto w = queue_.front();
    queue_.pop_front();
    if (w->cancelled) continue;
    ++running_;
    w->admitted = true;
    w->signal->notify();
  }
}

void SimGpuCluster::set_down(bool down) {
  if (down && !down_) {
    ++epoch_;
    // Queued requests wake and fail; running ones fail at their next event.
    for (auto& w : queue_) {
      w->cancelled = true;
      w->signal->notify();
    }
    queue_.clear();
    running_ = 0;
  }
  down_ = down;
}

}  // namespace chatscale::sim
