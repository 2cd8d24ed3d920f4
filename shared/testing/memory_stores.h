// In-memory implementations of every storage port (users, conversations, messages, usage, API keys,
// refresh-token families), with the
// semantics the PostgreSQL adapter must have: ownership checks (another user's conversation is
// NotFound), idempotency keys, monotonically growing LSNs, cursor pagination. Thread-safe (one mutex).
// Fault injection: fail_writes_after(n) makes every write after the next n fail with Unavailable, so
// tests can cut the database at an exact step of a flow (Beast's fail_count idea).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ports/stores.h"

namespace chatscale::testing {

class MemoryStore : public UserStore,
                    public ConversationStore,
                    public MessageStore,
                    public UsageStore,
                    public ApiKeyStore,
                    public RefreshTokenStore {
 public:
  // UserStore
  Result<Written<User>> create_user(const User& user) override;
  Result<User> find_user_by_email(const std::string& email, const ReadOptions& options) override;
  Result<User> find_user(const std::string& user_id, const ReadOptions& options) override;

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
  Result<Lsn> request_stop(const std::string& owner_id, const std::string& conversation_id,
                           const std::string& message_id, double now) override;
  Result<std::vector<std::string>> stop_requests(const std::vector<std::string>& message_ids) override;

  // UsageStore
  Result<Lsn> record_usage(const std::string& user_id, const std::string& model, const Usage& usage,
                           double now) override;

  // ApiKeyStore
  Result<Written<ApiKey>> create_api_key(const ApiKey& key) override;
  Result<ApiKey> find_api_key(const std::string& key_hash, const ReadOptions& options) override;
  Result<std::vector<ApiKey>> list_api_keys(const std::string& user_id, const ReadOptions& options) override;
  Result<Lsn> revoke_api_key(const std::string& user_id, const std::string& key_id, double now) override;

  // RefreshTokenStore
  Result<Lsn> create_refresh_token(const RefreshToken& token) override;
  Result<Rotation> rotate_refresh_token(const std::string& token_hash, const RefreshToken& successor,
                                        double now) override;
  Result<Written<std::string>> revoke_refresh_family(const std::string& token_hash, double now) override;
  Result<Written<std::int64_t>> revoke_user_refresh_families(const std::string& user_id, double now) override;

  // Test hooks.
  void fail_writes_after(std::int64_t n);  // -1 (default): never fail
  std::int64_t reads() const;
  std::int64_t writes() const;
  std::int64_t updates_of(const std::string& message_id) const;  // update_message calls for one message
  Usage usage_of(const std::string& user_id) const;
  std::vector<Message> all_messages(const std::string& conversation_id) const;  // no ownership check
  Lsn last_lsn() const;
  Lsn last_read_min_lsn() const;  // the ReadOptions::min_lsn of the latest read

 private:
  struct StoredConversation {
    Conversation conversation;
    std::vector<Message> messages;  // in seq order
  };

  Status begin_write();  // counts the write, applies fault injection; needs mu_ held
  void begin_read(const ReadOptions& options);
  Result<StoredConversation*> owned(const std::string& owner_id, const std::string& id);
  std::string next_id(const char* prefix);

  mutable std::mutex mu_;
  std::map<std::string, User> users_;                        // by id
  std::map<std::string, std::string> user_by_email_;         // lower-cased e-mail -> id
  std::map<std::string, StoredConversation> conversations_;  // by id
  std::map<std::string, Usage> usage_;                       // by user id
  std::map<std::string, ApiKey> api_keys_;                   // by hash
  std::map<std::string, double> stop_requested_;             // user message id -> when
  std::map<std::string, RefreshToken> refresh_tokens_;       // by hash
  std::map<std::string, double> family_revoked_at_;          // family id -> revocation time (0: live)
  std::map<std::string, std::int64_t> updates_;              // update_message calls by message id
  std::int64_t next_id_ = 1;
  Lsn lsn_ = 0;
  std::int64_t reads_ = 0;
  std::int64_t writes_ = 0;
  std::int64_t writes_left_ = -1;
  Lsn last_read_min_lsn_ = 0;
};

}  // namespace chatscale::testing
