// Storage ports: users, conversations, messages, usage, API keys, refresh tokens, rate-limit state. Adapters: in-memory fakes
// (shared/testing), simulated PostgreSQL (sim), libpqxx over a primary and read replicas (prod).
//
// Consistency: every write is durable on the primary when it returns and reports the LSN it reached.
// Reads take a ReadOptions whose min_lsn is the caller's read-your-writes token; the adapter serves the
// read from a replica that has replayed past it (shared/replica's router decides) or from the primary.
// Ownership is checked in the store: a conversation of another user is NotFound, never Forbidden.
// All calls may suspend the current task (see clock.h); none may block an I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ports/types.h"

namespace chatscale {

struct ReadOptions {
  Lsn min_lsn = 0;            // read-your-writes token; 0 means any replica will do
  double token_issued_at = 0;  // when the token was issued; old tokens expire (shared/replica)
  bool from_primary = false;  // the caller needs the newest state (e.g. before a write that depends on it)
};

template <typename T>
struct Written {
  T value;
  Lsn lsn = 0;            // LSN at which the write became durable on the primary
  bool existing = false;  // an idempotent write found its earlier twin and wrote nothing
};

class UserStore {
 public:
  virtual ~UserStore() = default;
  // AlreadyExists when the e-mail is taken (compared case-insensitively).
  virtual Result<Written<User>> create_user(const User& user) = 0;
  virtual Result<User> find_user_by_email(const std::string& email, const ReadOptions& options) = 0;
  virtual Result<User> find_user(const std::string& user_id, const ReadOptions& options) = 0;
};

struct Page {
  std::string cursor;  // opaque; empty for the first page
  int limit = 50;
};

template <typename T>
struct PageOf {
  std::vector<T> items;
  std::string next_cursor;  // empty when there is no further page
};

class ConversationStore {
 public:
  virtual ~ConversationStore() = default;
  virtual Result<Written<Conversation>> create_conversation(const std::string& owner_id,
                                                            const std::string& title, double now) = 0;
  virtual Result<Conversation> get_conversation(const std::string& owner_id, const std::string& id,
                                                const ReadOptions& options) = 0;
  // Most recently updated first.
  virtual Result<PageOf<Conversation>> list_conversations(const std::string& owner_id, const Page& page,
                                                          const ReadOptions& options) = 0;
  virtual Result<Written<Conversation>> rename_conversation(const std::string& owner_id,
                                                            const std::string& id,
                                                            const std::string& title, double now) = 0;
  // Deletes the conversation and its messages.
  virtual Result<Lsn> delete_conversation(const std::string& owner_id, const std::string& id) = 0;
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;
  // Appends a message (assigning id, seq and created_at when empty) and bumps the conversation's
  // updated_at and message_count in the same transaction. When message.idempotency_key is set and a
  // message with that key exists in the conversation, writes nothing and returns the existing one
  // with Written::existing set.
  virtual Result<Written<Message>> append_message(const std::string& owner_id, const Message& message) = 0;
  // Replaces content, status, finish reason, usage and moderation categories of a stored message.
  virtual Result<Lsn> update_message(const std::string& owner_id, const Message& message) = 0;
  virtual Result<Message> get_message(const std::string& owner_id, const std::string& conversation_id,
                                      const std::string& message_id, const ReadOptions& options) = 0;
  // The newest `limit` messages, returned oldest first.
  virtual Result<std::vector<Message>> recent_messages(const std::string& owner_id,
                                                       const std::string& conversation_id, int limit,
                                                       const ReadOptions& options) = 0;
  // Oldest first from the cursor.
  virtual Result<PageOf<Message>> list_messages(const std::string& owner_id,
                                                const std::string& conversation_id, const Page& page,
                                                const ReadOptions& options) = 0;
  // Ends answers left kStreaming by a service instance that died mid-generation (kill -9, power loss):
  // every kStreaming message not written for `stale_after_s` seconds becomes kPartial with finish
  // reason kError, keeping the text checkpointed so far. Returns how many were ended. A store that
  // does not outlive its process has no such answers, hence the default.
  virtual Result<std::int64_t> end_stale_answers(double stale_after_s) {
    (void)stale_after_s;
    return std::int64_t{0};
  }
  // Stop requests across service instances. request_stop records that the answer to the user message
  // `message_id` should stop (NotFound when it is not the owner's); stop_requests returns which of
  // `message_ids` have one, read from the primary. A store that does not outlive its process serves
  // one instance, which stops its generations in memory, hence the defaults.
  virtual Result<Lsn> request_stop(const std::string& owner_id, const std::string& conversation_id,
                                   const std::string& message_id, double now) {
    (void)owner_id, (void)conversation_id, (void)message_id, (void)now;
    return failed_precondition("this store does not record stop requests");
  }
  virtual Result<std::vector<std::string>> stop_requests(const std::vector<std::string>& message_ids) {
    (void)message_ids;
    return std::vector<std::string>{};
  }
};

// API keys for bearer use. Keys are found by their hash; a revoked key is still found (revoked_at set)
// so the gateway can say why it is refused.
class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  // AlreadyExists when the hash is taken. Assigns id and created_at when empty.
  virtual Result<Written<ApiKey>> create_api_key(const ApiKey& key) = 0;
  virtual Result<ApiKey> find_api_key(const std::string& key_hash, const ReadOptions& options) = 0;
  // The user's keys, newest first, revoked ones included.
  virtual Result<std::vector<ApiKey>> list_api_keys(const std::string& user_id, const ReadOptions& options) = 0;
  // NotFound when the key is not the user's; revoking twice keeps the first time.
  virtual Result<Lsn> revoke_api_key(const std::string& user_id, const std::string& key_id, double now) = 0;
};

// One refresh token of a login session. The token itself is an opaque random string handed to the
// client once; only its keyed hash is stored. Every login starts a family (the session); each refresh
// replaces the presented token by a successor in the same family.
struct RefreshToken {
  std::string token_hash;  // ApiKeyHasher::hash of the token; the lookup key
  std::string family_id;   // the login session the token belongs to
  std::string user_id;
  double issued_at = 0;
  double expires_at = 0;
  double rotated_at = 0;  // when a refresh replaced it (0 while it is the family's live token)
};

enum class RotationOutcome {
  kRotated,   // the token was live: it is now rotated and the successor stored
  kReused,    // the token had already been rotated (a stolen copy, or the thief's): family revoked now
  kRevoked,   // the family was revoked before (logout, logout-all, earlier reuse)
  kExpired,   // past expires_at; nothing written
};

struct Rotation {
  RotationOutcome outcome = RotationOutcome::kRotated;
  RefreshToken presented;  // the stored record of the presented token (user and family)
  Lsn lsn = 0;             // the write's LSN (0 when nothing was written)
};

// Refresh tokens in families, for rotation with reuse detection and logout. Access tokens are
// stateless JWTs and are not stored. Every method is atomic per family: two concurrent rotations of
// one token yield one kRotated and one kReused (which revokes the family, the winner's successor too).
class RefreshTokenStore {
 public:
  virtual ~RefreshTokenStore() = default;
  // Stores the first token of a new family (a login). AlreadyExists when the hash is taken.
  virtual Result<Lsn> create_refresh_token(const RefreshToken& token) = 0;
  // Presents the token with hash `token_hash` at `now`: NotFound when unknown; otherwise the outcome
  // above. On kRotated `successor` (same family and user; the caller fills hash and times) is stored.
  virtual Result<Rotation> rotate_refresh_token(const std::string& token_hash, const RefreshToken& successor,
                                                double now) = 0;
  // Logout: revokes the family of the token with this hash (rotated or not). NotFound when unknown;
  // revoking a revoked family keeps the first time. Returns the user id of the family.
  virtual Result<Written<std::string>> revoke_refresh_family(const std::string& token_hash, double now) = 0;
  // Logout everywhere: revokes every family of the user. Returns how many were live.
  virtual Result<Written<std::int64_t>> revoke_user_refresh_families(const std::string& user_id, double now) = 0;
};

// Per-user token and request accounting, for billing and quotas.
class UsageStore {
 public:
  virtual ~UsageStore() = default;
  virtual Result<Lsn> record_usage(const std::string& user_id, const std::string& model, const Usage& usage,
                                   double now) = 0;
};

// Rate-limit state: a small opaque blob per key, updated atomically. The decision itself is computed
// by shared/ratelimit; the store only guarantees that read-modify-write of one key is atomic (a mutex
// in process, a compare-and-set script in Redis), so several servers share one limit.
class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // Calls `update` with the current blob (empty when absent) exactly once per committed attempt; the
  // blob it leaves is stored with the given time to live. May call `update` again after a conflict.
  virtual Status update(const std::string& key, double ttl_seconds,
                        const std::function<void(std::string& blob)>& update) = 0;
};

}  // namespace chatscale
