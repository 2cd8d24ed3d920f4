// The storage ports over the simulated PostgreSQL (sim/db/database_model.h): every call asks the model
// for its latency (round trip + queueing + service, at full-scale load) and suspends the calling task for
// it with clock.sleep_for (SimGrid's clock in the simulator, a ManualClock in tests).
//
// Mapping of the reference design's per-prompt queries (DatabaseSpec::reads_per_prompt and
// writes_per_prompt) onto the calls the message service makes; store_call_costs(spec) returns this table
// with the scenario's numbers so the report can print it:
//   get_conversation   read, one round trip of account + quota + conversation_metadata + feature_flags
//                      + rate_limit_state statements
//   recent_messages    read, recent_messages statements
//   append (user)      write, one transaction of messages/2 + conversation_metadata + logs rows
//   append (answer)    write, messages/2 rows (the answer's first checkpoint creates its row)
//   update_message     write, messages/2 rows (each checkpoint and the final write rewrite the row)
//   record_usage       write, usage_counters rows
//   create/rename      write, conversation_metadata rows
//   delete             write, conversation_metadata + messages/2 x message_count rows
//   get_message, list_conversations, list_messages: read, 1 statement
// A call whose statements or rows come to zero in the scenario costs nothing and takes no time.
// Idempotent appends that find their twin cost one primary read (the conflict check), no write.
//
// Region. A call is served from the caller's region, which the runner sets per conversation:
// open_conversation(owner, region) registers a live conversation (already in the database: no query),
// create_conversation_in(region, ...) creates one with a write from that region, set_region moves one.
// The port's create_conversation uses default_region (the primary's unless set). record_usage takes the
// region of the user's live conversations (else default_region). The read-your-writes token comes in
// through ReadOptions (min_lsn, token_issued_at); from_primary reads go to the primary.
//
// State. O(1) per live conversation: owner, region, timestamps, seq counter, message count, the last
// user message's idempotency key, and a ring of the last kRecentMessages messages (role, status, finish
// reason, byte size, tokens). recent_messages and get_message return synthetic Messages whose content is
// a filler string of the recorded size (the context builder counts tokens from it); messages older than
// the ring are not retained (get_message answers NotFound, list_messages lists only the ring).
// forget_conversation frees a conversation when the runner ends it. Ids are compact counters:
// conversations "c<n>", messages "c<n>-<seq>" (assigned by the store; a caller's id is replaced).
// Titles are not retained (a read returns an empty title).
//
// Consistency and ownership as the real store: a conversation of another owner is NotFound; the state
// changes when the call is issued (seq numbers are handed out before the task sleeps), the call returns
// after its latency. Errors of the model (primary down: Unavailable) are returned after a round trip.
//
// Ownership: borrows the model and the clock (both must outlive it). Thread-safety: none; SimGrid runs
// actors one at a time on one thread, and no state is touched across the sleep.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ports/clock.h"
#include "ports/stores.h"
#include "sim/db/database_model.h"

namespace chatscale::sim {

inline constexpr int kRecentMessages = 16;

// One row of the mapping above.
struct StoreCallCost {
  std::string_view call;     // e.g. "get_conversation"
  std::string_view kind;     // "read" (statements in one round trip) or "write" (rows in one transaction)
  double amount = 0;         // statements or rows, from the scenario
  std::string_view carries;  // the reference-design queries it stands for
};
std::vector<StoreCallCost> store_call_costs(const DatabaseSpec& spec);

// The same mapping as numbers: statements per read call, rows per write call.
struct StoreCosts {
  double get_conversation = 0, recent_messages = 0, other_read = 1;
  double user_append = 0, answer_append = 0, update = 0, usage = 0, metadata = 0, message_row = 0;
};
StoreCosts store_costs(const DatabaseSpec& spec);

class SimStores : public ConversationStore, public MessageStore, public UsageStore {
 public:
  // default_region < 0: the primary's region.
  SimStores(DatabaseModel& db, Clock& clock, int default_region = -1);

  // Runner hooks (no query, no time).
  std::string open_conversation(const std::string& owner_id, int region, double now,
                                std::int64_t existing_messages = 0);
  Status set_region(const std::string& conversation_id, int region);
  void forget_conversation(const std::string& conversation_id);
  std::size_t live_conversations() const { return conversations_.size(); }
  Result<Written<Conversation>> create_conversation_in(int region, const std::string& owner_id,
                                                       const std::string& title, double now);

  // ConversationStore
  Result<Written<Conversation>> create_conversation(const std::string& owner_id, const std::string& title,
                                                    double now) override;
  Result<Conversation> get_conversation(const std::string& owner_id, const std::string& id,
                                        const ReadOptions& options) override;
  Result<PageOf<Conversation>> list_conversations(const std::string& owner_id, const Page& page,
                                                  const ReadOptions& options) override;
  Result<Written<Conversation>> rename_conversation(const std::string& owner_id, const std::string& id,
                                                    const std::string& title, double now) override;
  Result<Lsn> delete_conversation(const std::string& owner_id, const std::string& id) override;

  // MessageStore
  Result<Written<Message>> append_message(const std::string& owner_id, const Message& message) override;
  Result<Lsn> update_message(const std::string& owner_id, const Message& message) override;
  Result<Message> get_message(const std::string& owner_id, const std::string& conversation_id,
                              const std::string& message_id, const ReadOptions& options) override;
  Result<std::vector<Message>> recent_messages(const std::string& owner_id, const std::string& conversation_id,
                                               int limit, const ReadOptions& options) override;
  Result<PageOf<Message>> list_messages(const std::string& owner_id, const std::string& conversation_id,
                                        const Page& page, const ReadOptions& options) override;

  // UsageStore
  Result<Lsn> record_usage(const std::string& user_id, const std::string& model, const Usage& usage,
                           double now) override;

 private:
  struct Recent {  // one message of the ring
    std::int64_t seq = 0;
    double created_at = 0;
    std::uint32_t bytes = 0;
    std::uint32_t prompt_tokens = 0;
    std::uint32_t completion_tokens = 0;
    Role role = Role::kUser;
    MessageStatus status = MessageStatus::kComplete;
    FinishReason finish = FinishReason::kNone;
  };
  struct Conv {
    std::string owner;
    int region = 0;
    double created_at = 0;
    double updated_at = 0;
    std::int64_t message_count = 0;  // also the last seq handed out
    std::string last_user_key;       // idempotency key of the newest user message
    std::int64_t last_user_seq = 0;
    std::array<Recent, kRecentMessages> ring{};
  };
  struct Owner {
    int region = 0;
    int conversations = 0;
  };

  Result<Conv*> owned(const std::string& owner_id, std::string_view id);
  Status check_timeout(double latency_s);
  std::string register_conversation(const std::string& owner_id, int region, double now);
  void release_owner(const std::string& owner_id);
  int region_of_user(const std::string& user_id) const;
  // Issue one read or write to the model and return its latency (the caller sleeps for it once its
  // state change is made). Zero amounts are free. On failure the task waits a round trip to the primary.
  Result<double> start_read(int region, const ReadOptions& options, double statements);
  Result<WriteResult> start_write(int region, double rows);
  Message synthetic(std::string_view conversation_id, const Conv& conv, const Recent& r) const;
  static Recent summary(const Message& m);

  DatabaseModel& db_;
  Clock& clock_;
  int default_region_;
  StoreCosts costs_;
  std::uint64_t next_conversation_ = 1;
  std::unordered_map<std::uint64_t, Conv> conversations_;
  std::unordered_map<std::string, Owner> owners_;  // users with live conversations
};

}  // namespace chatscale::sim
