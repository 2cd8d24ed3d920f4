#include "prod/engine/serving/engine_loop.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "scheduler/scheduler.h"

namespace chatscale::engine {
namespace detail {

struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<EngineEvent> events;
  bool delivered_final = false;
  bool cancelled = false;
  std::shared_ptr<Signal> waker;  // notified (once) at the next event or cancellation

  void push(EngineEvent event) {
    std::shared_ptr<Signal> wake;
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(std::move(event));
      wake = std::move(waker);
    }
    cv.notify_all();
    if (wake) wake->notify();
  }
};

struct Seq {
  std::shared_ptr<StreamState> stream;
  std::vector<std::int32_t> tokens;  // prompt + generated
  std::int64_t prompt = 0;
  std::vector<std::int32_t> eog;
  Sampler sampler;
};

struct LoopCore {
  LoopCore(ModelBackend& b, const EngineLoopOptions& o, const SchedulerOptions& so)
      : backend(b), options(o), scheduler(so, b.block_size(), b.num_blocks()),
        start(std::chrono::steady_clock::now()) {}

  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // Removes a live request from the scheduler and the table (its blocks return at once). mu held.
  void drop(std::uint64_t id) {
    if (seqs.erase(id) > 0) (void)scheduler.cancel(id);
  }

  ModelBackend& backend;
  const EngineLoopOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;
  Scheduler scheduler;
  std::unordered_map<std::uint64_t, Seq> seqs;
  std::uint64_t next_id = 1;
  bool stop = false;
  EngineStats counters;  // iterations, prefill_tokens, generated_tokens, rejected
  std::chrono::steady_clock::time_point start;
};

}  // namespace detail

namespace {

using detail::LoopCore;
using detail::Seq;

EngineEvent token_event(std::int32_t token) {
  EngineEvent e;
  e.kind = EngineEvent::Kind::kToken;
  e.token = token;
  return e;
}

EngineEvent finished_event(FinishReason reason, EngineUsage usage) {
  EngineEvent e;
  e.kind = EngineEvent::Kind::kFinished;
  e.reason = reason;
  e.usage = usage;
  return e;
}

EngineEvent error_event(Status status) {
  EngineEvent e;
  e.kind = EngineEvent::Kind::kError;
  e.error = std::move(status);
  return e;
}

// One iteration's batch; the batch's spans point into toks and tables.
struct Iteration {
  IterationPlan plan;
  std::vector<std::vector<std::int32_t>> toks;
  std::vector<std::vector<std::int32_t>> tables;
  std::vector<bool> want;
  std::vector<std::int64_t> start_pos;
  std::vector<RequestId> ids;
  std::vector<RequestId> sampling;  // request of each logits row
  ForwardBatch batch;
};

void add_slice(Iteration& it, const LoopCore& core, RequestId id, std::int64_t from, std::int64_t count, bool want) {
  const Seq& seq = core.seqs.at(id);
  auto first = seq.tokens.begin() + from;
  it.toks.emplace_back(first, first + count);
  const auto& table = core.scheduler.kv().block_table(id);
  it.tables.emplace_back(table.begin(), table.end());
  it.want.push_back(want);
  it.start_pos.push_back(from);
  it.ids.push_back(id);
  if (want) it.sampling.push_back(id);
}

// Builds the batch of it.plan (decodes first, then prefill chunks). core.mu held.
void build_batch(Iteration& it, LoopCore& core) {
  for (const DecodeEntry& d : it.plan.decodes) add_slice(it, core, d.id, d.context - 1, 1, true);
  for (const PrefillChunk& p : it.plan.prefills) {
    add_slice(it, core, p.id, p.context_before, p.tokens, p.samples);
    core.counters.prefill_tokens += p.tokens;
  }
  it.batch.seqs.resize(it.ids.size());
  for (std::size_t i = 0; i < it.ids.size(); ++i) {
    SeqSlice& s = it.batch.seqs[i];
    s.seq_id = it.ids[i];
    s.tokens = it.toks[i];
    s.start_pos = it.start_pos[i];
    s.block_table = it.tables[i];
    s.want_logits = it.want[i];
  }
}

// Samples every sampling entry, streams the tokens, applies the plan and ends finished requests.
// core.mu held.
void apply_iteration(Iteration& it, LoopCore& core, std::span<const float> logits) {
  const auto vocab = static_cast<std::size_t>(core.backend.config().vocab);
  std::vector<Scheduler::Outcome> outcomes;
  for (std::size_t r = 0; r < it.sampling.size(); ++r) {
    auto found = core.seqs.find(it.sampling[r]);
    if (found == core.seqs.end()) continue;  // cancelled during the forward
    Seq& seq = found->second;
    std::size_t window = std::min<std::size_t>(seq.tokens.size(), static_cast<std::size_t>(core.options.recent_window));
    std::span<const std::int32_t> recent(seq.tokens.data() + seq.tokens.size() - window, window);
    std::int32_t token = seq.sampler.sample(logits.subspan(r * vocab, vocab), recent);
    seq.tokens.push_back(token);
    ++core.counters.generated_tokens;
    if (std::find(seq.eog.begin(), seq.eog.end(), token) != seq.eog.end()) {
      outcomes.push_back({found->first, true});
    } else {
      seq.stream->push(token_event(token));
    }
  }
  core.scheduler.complete(it.plan, outcomes, core.now());
  for (const FinishedRequest& f : core.scheduler.take_finished()) {
    auto found = core.seqs.find(f.id);
    if (found == core.seqs.end()) continue;
    found->second.stream->push(finished_event(f.reason, {f.prompt_tokens, f.generated_tokens}));
    core.seqs.erase(found);
  }
}

// A failed forward ends every request of the batch with the error. core.mu held.
void fail_iteration(const Iteration& it, LoopCore& core, const Status& status) {
  for (RequestId id : it.ids) {
    auto found = core.seqs.find(id);
    if (found == core.seqs.end()) continue;
    found->second.stream->push(error_event(status));
    core.drop(id);
  }
}

}  // namespace

// ---- EngineStream ----

EngineStream::~EngineStream() { cancel(); }

void EngineStream::cancel() {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->drop(id_);
  }
  std::shared_ptr<Signal> wake;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cancelled = true;
    wake = std::move(state_->waker);
  }
  state_->cv.notify_all();
  if (wake) wake->notify();
}

void EngineStream::notify_on_event(std::shared_ptr<Signal> signal) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->events.empty() && !state_->cancelled) {
      state_->waker = std::move(signal);
      return;
    }
  }
  signal->notify();
}

Result<std::optional<EngineEvent>> EngineStream::try_next() {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->cancelled) return cancelled("engine request was cancelled");
  if (state_->delivered_final) return failed_precondition("engine stream already finished");
  if (state_->events.empty()) return std::optional<EngineEvent>();
  EngineEvent event = std::move(state_->events.front());
  state_->events.pop_front();
  if (event.kind != EngineEvent::Kind::kToken) state_->delivered_final = true;
  return std::optional<EngineEvent>(std::move(event));
}

Result<EngineEvent> EngineStream::next(std::chrono::nanoseconds timeout) {
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait_for(lock, timeout, [&] { return !state_->events.empty() || state_->cancelled; });
  }
  CS_ASSIGN_OR_RETURN(std::optional<EngineEvent> event, try_next());
  if (!event) return deadline_exceeded("no engine event within the timeout");
  return std::move(*event);
}

// ---- EngineLoop ----

EngineLoop::EngineLoop(std::shared_ptr<detail::LoopCore> core) : core_(std::move(core)) {
  thread_ = std::thread([this] { run(); });
}

Result<std::unique_ptr<EngineLoop>> EngineLoop::create(ModelBackend& backend, EngineLoopOptions options) {
  SchedulerOptions so;
  so.max_num_batched_tokens = options.max_num_batched_tokens;
  so.max_num_seqs = options.max_num_seqs;
  so.max_waiting = options.max_waiting;
  so.long_prefill_token_threshold = options.long_prefill_token_threshold;
  so.admission_watermark = options.admission_watermark;
  so.max_model_len = backend.config().context_length;
  CS_RETURN_IF_ERROR(validate(so));
  if (options.recent_window < 0) return invalid_argument("engine loop: recent_window must be >= 0");
  if (backend.config().context_length <= 1) return invalid_argument("engine loop: the model's context_length must be > 1");
  auto core = std::make_shared<detail::LoopCore>(backend, options, so);
  return std::unique_ptr<EngineLoop>(new EngineLoop(std::move(core)));
}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->stop = true;
  }
  core_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(core_->mu);
  std::vector<std::uint64_t> ids;
  for (auto& [id, seq] : core_->seqs) {
    seq.stream->push(error_event(unavailable("the engine loop stopped")));
    ids.push_back(id);
  }
  for (std::uint64_t id : ids) core_->drop(id);
}

const LlamaConfig& EngineLoop::config() const { return core_->backend.config(); }

std::int64_t EngineLoop::capacity() const { return core_->options.max_num_seqs + core_->options.max_waiting; }

void EngineLoop::run() {
  LoopCore& core = *core_;
  std::vector<float> logits;
  const auto vocab = static_cast<std::size_t>(core.backend.config().vocab);
  while (true) {
    Iteration it;
    {
      std::unique_lock<std::mutex> lock(core.mu);
      core.cv.wait(lock, [&] { return core.stop || !core.scheduler.idle(); });
      if (core.stop) return;
      it.plan = core.scheduler.next_batch(core.now());
      if (it.plan.empty()) {  // nothing can run now; look again shortly
        core.cv.wait_for(lock, std::chrono::milliseconds(1));
        continue;
      }
      build_batch(it, core);
    }
    logits.resize(std::max<std::size_t>(1, it.sampling.size()) * vocab);
    Status status = core.backend.forward(it.batch, logits);
    std::lock_guard<std::mutex> lock(core.mu);
    ++core.counters.iterations;
    if (status.is_ok()) {
      apply_iteration(it, core, logits);
    } else {
      fail_iteration(it, core, status);
    }
  }
}

Result<std::unique_ptr<EngineStream>> EngineLoop::submit(EngineRequest request) {
  const LlamaConfig& config = core_->backend.config();
  const auto prompt = static_cast<std::int64_t>(request.prompt_ids.size());
  if (prompt == 0) return invalid_argument("engine request: the prompt is empty");
  for (std::int32_t id : request.prompt_ids) {
    if (id < 0 || id >= config.vocab) {
      return invalid_argument("engine request: token id " + std::to_string(id) + " is outside the vocabulary of " +
                              std::to_string(config.vocab));
    }
  }
  if (prompt >= config.context_length) {
    return invalid_argument("prompt of " + std::to_string(prompt) + " tokens exceeds the context of " +
                            std::to_string(config.context_length) + " tokens (room for one generated token is needed)");
  }
  const std::int64_t kv_tokens = core_->backend.num_blocks() * core_->backend.block_size();
  if (prompt >= kv_tokens) {
    return invalid_argument("prompt of " + std::to_string(prompt) + " tokens exceeds the KV cache of " +
                            std::to_string(kv_tokens) + " tokens");
  }
  const std::int64_t room = std::min(config.context_length, kv_tokens) - prompt;
  const std::int64_t max_new = request.max_tokens <= 0 ? room : std::min(request.max_tokens, room);
  CS_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(request.sampling));

  auto state = std::make_shared<detail::StreamState>();
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stop) return unavailable("the engine loop stopped");
    id = core_->next_id++;
    double now = core_->now();
    Status status = core_->scheduler.enqueue({id, request.priority, now, prompt, max_new}, now);
    if (!status.is_ok()) {
      if (status.code() == StatusCode::kUnavailable) ++core_->counters.rejected;
      return status;
    }
    core_->seqs.emplace(id, Seq{state, std::move(request.prompt_ids), prompt, std::move(request.eog_ids),
                                std::move(sampler)});
  }
  core_->cv.notify_all();
  return std::unique_ptr<EngineStream>(new EngineStream(core_, std::move(state), id, prompt));
}

EngineStats EngineLoop::stats() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  SchedulerStats s = core_->scheduler.stats();
  EngineStats out = core_->counters;
  out.running = s.running;
  out.waiting = s.waiting;
  out.in_flight = static_cast<std::int64_t>(core_->seqs.size());
  out.kv_used_blocks = s.kv_used_blocks;
  out.kv_total_blocks = s.kv_total_blocks;
  out.kv_usage = s.kv_usage;
  out.preemptions = s.preemptions_total;
  return out;
}

}  // namespace chatscale::engine
