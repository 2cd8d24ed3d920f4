#include "prod/api/generation_hub.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "prod/api/api_json.h"
#include "prod/runtime/task.h"
#include "replica/read_token.h"

namespace chatscale::api {

// The flow's sink: every call lands in the generation's log. It never reports the client as gone,
// because there is no client here: connections come and go on the log's side.
class HubSink : public StreamSink {
 public:
  HubSink(GenerationHub& hub, std::shared_ptr<Generation> generation)
      : hub_(hub), generation_(std::move(generation)) {}

  bool on_user_message(const Message& message) override {
    generation_->began_with(message);
    hub_.registered(generation_);
    return true;
  }

  bool on_delta(std::string_view text, std::int64_t, std::int64_t) override {
    if (text.empty()) return true;  // aggregated deltas (simulator) carry no text; prod backends do
    generation_->append(delta_event(generation_->message_id(), text, generation_->size() + 1));
    return true;
  }

  bool on_heartbeat() override {
    generation_->heartbeat();
    return true;
  }

  void on_done(const Message&) override {}  // the done event is written from the full outcome

 private:
  GenerationHub& hub_;
  std::shared_ptr<Generation> generation_;
};

Generation::Generation(std::string owner, std::string conversation_id, std::string idempotency_key, Clock& clock)
    : owner_(std::move(owner)),
      conversation_id_(std::move(conversation_id)),
      idempotency_key_(std::move(idempotency_key)),
      clock_(clock),
      changed_(clock.make_signal()) {}

std::string Generation::message_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return user_message_.id;
}

bool Generation::began() const {
  std::lock_guard<std::mutex> lock(mu_);
  return began_;
}

bool Generation::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

std::size_t Generation::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

SendOutcome Generation::outcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

Message Generation::user_message() const {
  std::lock_guard<std::mutex> lock(mu_);
  return user_message_;
}

void Generation::notify_locked() {
  std::shared_ptr<Signal> previous = std::move(changed_);
  changed_ = clock_.make_signal();
  previous->notify();
}

void Generation::append(std::string frame) {
  std::lock_guard<std::mutex> lock(mu_);
  log_.push_back(std::move(frame));
  notify_locked();
}

void Generation::began_with(const Message& user_message) {
  std::lock_guard<std::mutex> lock(mu_);
  user_message_ = user_message;
  began_ = true;
  log_.push_back(message_event(user_message, log_.size() + 1));
  notify_locked();
}

void Generation::heartbeat() {
  std::lock_guard<std::mutex> lock(mu_);
  ++heartbeats_;
  notify_locked();
}

void Generation::finish(SendOutcome outcome, std::string done_frame, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!done_frame.empty()) log_.push_back(std::move(done_frame));
  outcome_ = std::move(outcome);
  finished_ = true;
  finished_at_ = now;
  notify_locked();
}

Generation::Batch Generation::read(std::size_t from, std::uint64_t heartbeats_seen, double deadline) {
  auto fill = [&] {
    Batch batch;
    for (std::size_t i = from; i < log_.size(); ++i) batch.frames.push_back(log_[i]);
    batch.next = std::max(from, log_.size());
    batch.finished = finished_ && batch.next >= log_.size();
    batch.heartbeats = heartbeats_;
    return batch;
  };
  for (;;) {
    std::shared_ptr<Signal> changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (log_.size() > from || finished_ || heartbeats_ != heartbeats_seen) return fill();
      changed = changed_;
    }
    // A change between unlocking and waiting notifies `changed`, so the wait returns at once.
    if (!changed->wait_until(deadline)) {
      std::lock_guard<std::mutex> lock(mu_);
      return fill();
    }
  }
}

bool Generation::wait_started(double deadline) {
  for (;;) {
    std::shared_ptr<Signal> changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (began_ || finished_) return true;
      changed = changed_;
    }
    if (!changed->wait_until(deadline)) return began() || finished();
  }
}

bool Generation::wait_finished(double deadline) {
  for (;;) {
    std::shared_ptr<Signal> changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return true;
      changed = changed_;
    }
    if (!changed->wait_until(deadline)) return finished();
  }
}

GenerationHub::GenerationHub(boost::asio::io_context& ioc, Clock& clock, MessageService& service,
                             CancelRegistry& registry, HubConfig config)
    : ioc_(ioc), clock_(clock), service_(service), registry_(registry), config_(config) {
  if (config_.stop_requests) poller_ = std::thread([this] { poll_stops(); });
}

GenerationHub::~GenerationHub() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    closing_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void GenerationHub::poll_stops() {
  const auto interval = std::chrono::duration<double>(std::max(config_.stop_poll_s, 0.01));
  std::unique_lock<std::mutex> lock(poll_mu_);
  while (!poll_cv_.wait_for(lock, interval, [this] { return closing_; })) {
    lock.unlock();
    check_stops();
    lock.lock();
  }
}

void GenerationHub::check_stops() {
  std::vector<std::shared_ptr<Generation>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& g : live_)
      if (g->began() && !g->cancel_requested()) live.push_back(g);
  }
  if (live.empty()) return;
  std::vector<std::string> ids;
  for (const auto& g : live) ids.push_back(g->message_id());
  auto requested = config_.stop_requests->stop_requests(ids);
  if (!requested.is_ok()) return;  // the next poll asks again
  for (const auto& id : *requested)
    for (const auto& g : live)
      if (g->message_id() == id) g->request_cancel();
}

std::string GenerationHub::idempotency_slot(const std::string& owner, const std::string& conversation_id,
                                            const std::string& key) {
  // Unit separators cannot occur in ids; the key is the client's, so it goes last.
  return owner + '\x1f' + conversation_id + '\x1f' + key;
}

bool GenerationHub::joinable(const Generation& generation) {
  if (!generation.finished()) return true;
  SendOutcome outcome = generation.outcome();
  return generation.began() && outcome.status.is_ok() &&
         outcome.assistant_message.finish_reason != FinishReason::kError;
}

bool GenerationHub::holds(const std::string& owner, const std::string& conversation_id,
                          const std::string& idempotency_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_idempotency_.count(idempotency_slot(owner, conversation_id, idempotency_key)) > 0;
}

Result<std::shared_ptr<Generation>> GenerationHub::start(SendRequest request) {
  if (draining_.load()) return unavailable("the server is shutting down; retry on another instance");
  auto generation = std::make_shared<Generation>(request.caller.user_id, request.conversation_id,
                                                 request.idempotency_key, clock_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    sweep_locked(clock_.now());
    if (!request.idempotency_key.empty()) {
      auto slot = idempotency_slot(request.caller.user_id, request.conversation_id, request.idempotency_key);
      auto it = by_idempotency_.find(slot);
      // A retry joins a generation that still runs or ended well; one refused before streaming (rate
      // limited, flagged, overloaded) or failed is tried afresh, as MessageService retries it.
      if (it != by_idempotency_.end() && joinable(*it->second)) return it->second;
      by_idempotency_[slot] = generation;
    }
    live_.push_back(generation);
  }
  running_.fetch_add(1);
  spawn_task(
      ioc_, [this, generation, request = std::move(request)](TaskYield) { run(generation, request); },
      config_.task_stack_bytes);
  return generation;
}

void GenerationHub::run(std::shared_ptr<Generation> generation, const SendRequest& request) {
  SendOutcome outcome;
  {
    CancelScope scope(registry_, generation->cancel_);
    HubSink sink(*this, generation);
    try {
      outcome = service_.send(request, sink);
    } catch (const std::exception& e) {  // an adapter broke its no-throw contract: fail this one only
      outcome.status = internal_error(std::string("the generation failed: ") + e.what());
    }
  }
  double now = clock_.now();
  std::string done;
  if (generation->began()) {
    std::string token = outcome.lsn > 0 ? encode_read_token(ReadToken{outcome.lsn, now}) : "";
    done = done_event(generation->message_id(), outcome.assistant_message, outcome.status, token,
                      generation->size() + 1);
  }
  generation->finish(std::move(outcome), std::move(done), now);
  finished(generation, now);
}

void GenerationHub::registered(const std::shared_ptr<Generation>& generation) {
  std::lock_guard<std::mutex> lock(mu_);
  by_message_[generation->message_id()] = generation;
}

void GenerationHub::finished(const std::shared_ptr<Generation>& generation, double now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(std::remove(live_.begin(), live_.end(), generation), live_.end());
    expiry_.emplace_back(now + config_.grace_s, generation);
  }
  running_.fetch_sub(1);
}

void GenerationHub::sweep_locked(double now) {
  while (!expiry_.empty() && expiry_.front().first <= now) {
    auto generation = std::move(expiry_.front().second);
    expiry_.pop_front();
    auto by_message = by_message_.find(generation->message_id());
    if (by_message != by_message_.end() && by_message->second == generation) by_message_.erase(by_message);
    if (!generation->idempotency_key().empty()) {
      auto slot = idempotency_slot(generation->owner(), generation->conversation_id(), generation->idempotency_key());
      auto by_key = by_idempotency_.find(slot);
      if (by_key != by_idempotency_.end() && by_key->second == generation) by_idempotency_.erase(by_key);
    }
  }
}

std::shared_ptr<Generation> GenerationHub::find(const std::string& owner, const std::string& conversation_id,
                                                const std::string& message_id) {
  std::lock_guard<std::mutex> lock(mu_);
  sweep_locked(clock_.now());
  auto it = by_message_.find(message_id);
  if (it == by_message_.end()) return nullptr;
  const auto& generation = it->second;
  if (generation->owner() != owner || generation->conversation_id() != conversation_id) return nullptr;
  return generation;
}

std::size_t GenerationHub::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size() + expiry_.size();
}

void GenerationHub::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& generation : live_) generation->request_cancel();
}

std::vector<std::shared_ptr<Generation>> GenerationHub::cancel_conversation(const std::string& owner,
                                                                            const std::string& conversation_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Generation>> cancelled;
  for (const auto& generation : live_) {
    if (generation->owner() != owner || generation->conversation_id() != conversation_id) continue;
    generation->request_cancel();
    cancelled.push_back(generation);
  }
  return cancelled;
}

}  // namespace chatscale::api
