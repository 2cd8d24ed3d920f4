// The generation hub: the server, not the HTTP connection, owns each answer being generated.
//
// start() runs MessageService::send() (the shared flow, unchanged) in a task of its own, with a sink
// that appends the stream's SSE events to the generation's in-memory log: `message` (the stored user
// message), one `delta` per token delta, and `done` (appended after send() returns, from its outcome:
// stored answer, status, finish reason, usage, read-your-writes token). Event n has the id
// "<user_message_id>:<n>", n = 1, 2, ... . HTTP connections subscribe: read() returns the events from
// an index on, waiting on the generation's signal while there is nothing new. A connection that goes
// away loses nothing: the generation runs on, and a later connection resumes from any event index
// (Last-Event-ID). The log holds one event per token delta, so it is bounded by the answer size
// (max_tokens).
//
// A finished generation stays in memory for `grace_s` (resumes and retries within it replay the
// exact events), then is dropped; it is found by its user message id (once the message is stored) and
// by (owner, conversation, idempotency key) while it runs or lingers, so a retry with the same
// Idempotency-Key joins the running generation instead of starting a second one (on this server).
//
// stop: request_cancel() raises the generation's cancel flag (CancellableBackend): the flow ends
// with finish reason "cancelled" and stores the partial answer. A stop sent to another instance is
// written to the store (MessageStore::request_stop); with HubConfig::stop_requests set, the hub's
// poller thread finds it within stop_poll_s and raises the flag here.
// Heartbeats: the flow's on_heartbeat bumps a counter that subscribers see (they write a comment);
// a subscriber also writes one when it waited a heartbeat interval without news.
//
// Ownership: the hub borrows the io_context, clock, service and registry (all must outlive it and
// every task it started: drain before destroying). Generations are shared_ptr: the hub, the running
// task and subscribers hold them. Thread-safety: every method may be called from any task or thread.
// Failure behaviour: send() outcomes are values in Generation::outcome(); start() refuses with
// Unavailable while draining; an exception escaping send() (a broken adapter) is caught in the task
// and reported as an internal error outcome, never thrown out of io_context::run().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/status.h"
#include "ports/clock.h"
#include "prod/api/cancellable_backend.h"
#include "service/message_service.h"

namespace chatscale::api {

struct HubConfig {
  double grace_s = 120;          // how long a finished generation stays resumable in memory
  std::size_t task_stack_bytes = 256 * 1024;
  // Stop requests written by other instances (MessageStore::request_stop): when set, a thread of the
  // hub asks the store every stop_poll_s which running generations have one, and cancels them.
  MessageStore* stop_requests = nullptr;
  double stop_poll_s = 1;
};

class Generation {
 public:
  // What a subscriber receives: events [from, next) of the log, and the state after them.
  struct Batch {
    std::vector<std::string> frames;  // framed SSE events
    std::size_t next = 0;             // index after the last frame returned
    bool finished = false;            // true when the log is complete and `next` is its end
    std::uint64_t heartbeats = 0;     // the flow's heartbeat count so far
  };

  Generation(std::string owner, std::string conversation_id, std::string idempotency_key, Clock& clock);

  const std::string& owner() const { return owner_; }
  const std::string& conversation_id() const { return conversation_id_; }
  const std::string& idempotency_key() const { return idempotency_key_; }
  // The user message's id; "" until it is stored.
  std::string message_id() const;
  bool began() const;     // the user message is stored and the stream has started
  bool finished() const;  // send() has returned (the done event, if any, is in the log)
  std::size_t size() const;  // events in the log

  // Waits until the log has events at `from` or beyond, the generation finishes, the heartbeat count
  // passes `heartbeats_seen`, or the deadline; returns what is there (possibly nothing).
  Batch read(std::size_t from, std::uint64_t heartbeats_seen, double deadline);
  // Waits until began() or finished(); true when either holds.
  bool wait_started(double deadline);
  bool wait_finished(double deadline);

  // The flow's outcome; meaningful once finished().
  SendOutcome outcome() const;
  // The stored user message (once began()).
  Message user_message() const;

  void request_cancel() { cancel_->store(true); }
  bool cancel_requested() const { return cancel_->load(); }

 private:
  friend class GenerationHub;
  friend class HubSink;

  void append(std::string frame);  // notifies subscribers
  void began_with(const Message& user_message);
  void heartbeat();
  void finish(SendOutcome outcome, std::string done_frame, double now);
  void notify_locked();            // needs mu_ held

  const std::string owner_;
  const std::string conversation_id_;
  const std::string idempotency_key_;
  Clock& clock_;
  const std::shared_ptr<CancelFlag> cancel_ = std::make_shared<CancelFlag>(false);

  mutable std::mutex mu_;
  Message user_message_;            // guarded by mu_
  bool began_ = false;              // guarded by mu_
  bool finished_ = false;           // guarded by mu_
  double finished_at_ = 0;          // guarded by mu_
  std::vector<std::string> log_;    // guarded by mu_: event n is log_[n - 1]
  std::uint64_t heartbeats_ = 0;    // guarded by mu_
  SendOutcome outcome_;             // guarded by mu_; set when finished_
  std::shared_ptr<Signal> changed_; // guarded by mu_: notified (and replaced) on every change
};

class GenerationHub {
 public:
  GenerationHub(boost::asio::io_context& ioc, Clock& clock, MessageService& service, CancelRegistry& registry,
                HubConfig config = {});
  ~GenerationHub();
  GenerationHub(const GenerationHub&) = delete;
  GenerationHub& operator=(const GenerationHub&) = delete;

  // Starts the generation of `request` in a task of its own, or joins the one in memory with the same
  // (owner, conversation, idempotency key). Unavailable while draining.
  Result<std::shared_ptr<Generation>> start(SendRequest request);
  // The generation of a user message, when in memory and owned by `owner` in that conversation.
  std::shared_ptr<Generation> find(const std::string& owner, const std::string& conversation_id,
                                   const std::string& message_id);

  // Whether a generation with this idempotency key is in memory (running or lingering).
  bool holds(const std::string& owner, const std::string& conversation_id, const std::string& idempotency_key) const;

  std::size_t running() const { return running_.load(); }
  std::size_t held() const;  // generations in memory, running or lingering

  // Shutdown: refuse new generations from now on.
  void begin_drain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  // Raises the cancel flag of every running generation (their partial answers are stored).
  void cancel_all();
  // Raises the cancel flag of every running generation of `owner` in the conversation and returns
  // them (to wait for: deleting a conversation first lets its answers end as cancelled).
  std::vector<std::shared_ptr<Generation>> cancel_conversation(const std::string& owner,
                                                               const std::string& conversation_id);

 private:
  // Whether a retry with the same idempotency key should join `generation` rather than start anew.
  static bool joinable(const Generation& generation);
  static std::string idempotency_slot(const std::string& owner, const std::string& conversation_id,
                                      const std::string& key);
  void run(std::shared_ptr<Generation> generation, const SendRequest& request);
  void registered(const std::shared_ptr<Generation>& generation);  // by message id, once began
  void finished(const std::shared_ptr<Generation>& generation, double now);
  void sweep_locked(double now);  // needs mu_ held
  void poll_stops();              // the stop-request thread's loop
  void check_stops();             // one poll: cancels the running generations with a stop request

  boost::asio::io_context& ioc_;
  Clock& clock_;
  MessageService& service_;
  CancelRegistry& registry_;
  const HubConfig config_;
  std::atomic<std::size_t> running_{0};
  std::atomic<bool> draining_{false};

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Generation>> by_message_;      // guarded by mu_
  std::map<std::string, std::shared_ptr<Generation>> by_idempotency_; // guarded by mu_
  std::vector<std::shared_ptr<Generation>> live_;                      // guarded by mu_: running ones
  std::deque<std::pair<double, std::shared_ptr<Generation>>> expiry_;  // guarded by mu_: finished, by time

  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool closing_ = false;  // guarded by poll_mu_
  std::thread poller_;    // runs poll_stops() when config_.stop_requests is set

  friend class HubSink;
};

}  // namespace chatscale::api
