// PgStores: the storage ports (users, conversations, messages, usage, API keys, refresh-token families;
// shared/ports/stores.h) over PostgreSQL (PgDatabase: writes on the primary, reads on a replica that has the caller's writes),
// with message contents and conversation titles sealed by a ContentCipher (no plaintext at rest; each
// value bound to its row, so ciphertexts cannot be swapped between rows).
//
// Semantics are those of shared/testing/memory_stores.h, checked by one contract suite run against both
// (tests/prod/db/store_contract_test.cc): another user's conversation is NotFound; idempotency keys
// (unique per conversation; a concurrent duplicate append returns the first row with existing set,
// never a second row: the conversation row is locked FOR UPDATE and the insert is ON CONFLICT DO
// NOTHING on the partial unique index); seq assignment, message_count and updated_at bump in the append's
// transaction; page limits 1..1000 (InvalidArgument); malformed cursors InvalidArgument. Cursors are
// opaque keysets (base64url of the last row's sort key), so pages stay consistent while rows are added.
// Times round-trip exactly (double precision columns).
//
// Every statement is prepared (PgDatabase::prepare) and parameterised: stored text is never part of SQL,
// so any string (quotes, "--", unicode, megabytes) is stored verbatim. PostgreSQL text cannot hold NUL
// bytes: an e-mail, title or message content containing '\0' is InvalidArgument (titles and contents
// are sealed, so they do hold NUL bytes safely; only plain columns are checked).
//
// Ownership: borrows the PgDatabase (must outlive the stores); owns its ContentCipher.
// Thread-safety: every method from any number of tasks and threads at once.
// Failure: errors are values (libpqxx exceptions are caught in PgDatabase, see pg_error.h): unique
// e-mail or key hash AlreadyExists; lost connections Unavailable; statement timeout DeadlineExceeded; a
// stored value that fails to open (tampered, wrong key) Internal. Error texts and logs never carry
// message contents, titles, e-mails or password hashes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ports/stores.h"
#include "prod/db/content_cipher.h"
#include "prod/db/pg_database.h"

namespace chatscale::db {

class PgStores : public UserStore,
                 public ConversationStore,
                 public MessageStore,
                 public UsageStore,
                 public ApiKeyStore,
                 public RefreshTokenStore {
 public:
  // Declares the prepared statements on the database.
  static Result<std::unique_ptr<PgStores>> create(PgDatabase& db, ContentCipher cipher);

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
  Result<std::int64_t> end_stale_answers(double stale_after_s) override;
  Result<Lsn> request_stop(const std::string& owner_id, const std::string& conversation_id,
                           const std::string& message_id, double now) override;
  Result<std::vector<std::string>> stop_requests(const std::vector<std::string>& message_ids) override;
  Result<Message> get_message(const std::string& owner_id, const std::string& conversation_id,
                              const std::string& message_id, const ReadOptions& options) override;
  Result<std::vector<Message>> recent_messages(const std::string& owner_id, const std::string& conversation_id,
                                               int limit, const ReadOptions& options) override;
  Result<PageOf<Message>> list_messages(const std::string& owner_id, const std::string& conversation_id,
                                        const Page& page, const ReadOptions& options) override;

  // UsageStore
  Result<Lsn> record_usage(const std::string& user_id, const std::string& model, const Usage& usage,
                           double now) override;
  // The user's total usage over every model and day (billing views, tests).
  Result<Usage> usage_of(const std::string& user_id, const ReadOptions& options);

  // ApiKeyStore
  Result<Written<ApiKey>> create_api_key(const ApiKey& key) override;
  Result<ApiKey> find_api_key(const std::string& key_hash, const ReadOptions& options) override;
  Result<std::vector<ApiKey>> list_api_keys(const std::string& user_id, const ReadOptions& options) override;
  Result<Lsn> revoke_api_key(const std::string& user_id, const std::string& key_id, double now) override;

  // RefreshTokenStore (pg_refresh_tokens.cc)
  Result<Lsn> create_refresh_token(const RefreshToken& token) override;
  Result<Rotation> rotate_refresh_token(const std::string& token_hash, const RefreshToken& successor,
                                        double now) override;
  Result<Written<std::string>> revoke_refresh_family(const std::string& token_hash, double now) override;
  Result<Written<std::int64_t>> revoke_user_refresh_families(const std::string& user_id, double now) override;

  const ContentCipher& cipher() const { return cipher_; }

  // The associated data that binds a sealed value to its row.
  static std::string message_binding(const std::string& conversation_id, const std::string& message_id);
  static std::string title_binding(const std::string& conversation_id);

 private:
  PgStores(PgDatabase& db, ContentCipher cipher) : db_(db), cipher_(std::move(cipher)) {}
  Status declare_statements();

  PgDatabase& db_;
  ContentCipher cipher_;
};

// 16 random bytes as 32 lower-case hex characters (row ids that reveal no counts).
std::string random_id();

}  // namespace chatscale::db
