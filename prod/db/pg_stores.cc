#include "prod/db/pg_stores.h"

#include <sodium.h>

#include <cmath>
#include <pqxx/pqxx>

#include "auth/sodium_util.h"
#include "prod/db/pg_stores_internal.h"

namespace chatscale::db {

using internal::check_limit;
using internal::check_text;
using internal::f8;

std::string random_id() {
  std::string bytes(16, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return hex_encode(bytes);
}

std::string PgStores::message_binding(const std::string& conversation_id, const std::string& message_id) {
  return "message/" + conversation_id + "/" + message_id;
}

std::string PgStores::title_binding(const std::string& conversation_id) { return "conversation/" + conversation_id; }

Result<std::unique_ptr<PgStores>> PgStores::create(PgDatabase& db, ContentCipher cipher) {
  CS_RETURN_IF_ERROR(sodium_ready());
  std::unique_ptr<PgStores> stores(new PgStores(db, std::move(cipher)));
  CS_RETURN_IF_ERROR(stores->declare_statements());
  return stores;
}

Status PgStores::declare_statements() {
  for (const auto& [name, sql] : internal::store_statements()) CS_RETURN_IF_ERROR(db_.prepare(name, sql));
  return Status::ok();
}

namespace {

User user_from(const pqxx::row& r) {
  User u;
  u.id = r[0].as<std::string>();
  u.email = r[1].as<std::string>();
  u.password_hash = r[2].as<std::string>();
  u.tier = r[3].as<std::string>();
  u.created_at = r[4].as<double>();
  return u;
}

ApiKey api_key_from(const pqxx::row& r) {
  ApiKey k;
  k.id = r[0].as<std::string>();
  k.user_id = r[1].as<std::string>();
  k.name = r[2].as<std::string>();
  k.key_hash = r[3].as<std::string>();
  k.prefix = r[4].as<std::string>();
  k.created_at = r[5].as<double>();
  k.revoked_at = r[6].as<double>();
  return k;
}

// The day number (days since 1970-01-01, UTC) of a Unix time.
long long day_of(double now) { return static_cast<long long>(std::floor(now / 86400.0)); }

}  // namespace

// Conversation rows carry a sealed title; opening it needs the cipher.
static Result<Conversation> conversation_from(const pqxx::row& r, const ContentCipher& cipher) {
  Conversation c;
  c.id = r[0].as<std::string>();
  c.owner_id = r[1].as<std::string>();
  CS_ASSIGN_OR_RETURN(c.title, cipher.open(r[2].as<std::string>(), PgStores::title_binding(c.id)));
  c.created_at = r[3].as<double>();
  c.updated_at = r[4].as<double>();
  c.message_count = r[5].as<std::int64_t>();
  return c;
}

// ---- users -------------------------------------------------------------------------------------------

Result<Written<User>> PgStores::create_user(const User& user) {
  CS_RETURN_IF_ERROR(check_text("e-mail", user.email));
  CS_RETURN_IF_ERROR(check_text("password hash", user.password_hash));
  CS_RETURN_IF_ERROR(check_text("tier", user.tier));
  CS_RETURN_IF_ERROR(check_text("user id", user.id));
  User stored = user;
  if (stored.id.empty()) stored.id = random_id();
  auto lsn = db_.write("create_user", [&](pqxx::transaction_base& tx) {
    tx.exec_prepared("cs_user_insert", stored.id, stored.email, stored.password_hash, stored.tier,
                     f8(stored.created_at));
    return Status::ok();
  });
  if (!lsn.is_ok()) {
    if (lsn.status().code() == StatusCode::kAlreadyExists) return already_exists("e-mail already registered");
    return lsn.status();
  }
  return Written<User>{stored, *lsn};
}

Result<User> PgStores::find_user_by_email(const std::string& email, const ReadOptions& options) {
  if (email.find('\0') != std::string::npos) return not_found("user not found");
  User user;
  CS_RETURN_IF_ERROR(db_.read(options, "find_user_by_email", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_user_by_email", email);
    if (rows.empty()) return not_found("user not found");
    user = user_from(rows[0]);
    return Status::ok();
  }));
  return user;
}

Result<User> PgStores::find_user(const std::string& user_id, const ReadOptions& options) {
  if (user_id.find('\0') != std::string::npos) return not_found("user not found");
  User user;
  CS_RETURN_IF_ERROR(db_.read(options, "find_user", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_user_by_id", user_id);
    if (rows.empty()) return not_found("user not found");
    user = user_from(rows[0]);
    return Status::ok();
  }));
  return user;
}

// ---- conversations -----------------------------------------------------------------------------------

Result<Written<Conversation>> PgStores::create_conversation(const std::string& owner_id, const std::string& title,
                                                            double now) {
  CS_RETURN_IF_ERROR(check_text("owner id", owner_id));
  Conversation c{random_id(), owner_id, title, now, now, 0};
  CS_ASSIGN_OR_RETURN(std::string sealed, cipher_.seal(title, title_binding(c.id)));
  CS_ASSIGN_OR_RETURN(Lsn lsn, db_.write("create_conversation", [&](pqxx::transaction_base& tx) {
    tx.exec_prepared("cs_conv_insert", c.id, owner_id, sealed, f8(now));
    return Status::ok();
  }));
  return Written<Conversation>{c, lsn};
}

Result<Conversation> PgStores::get_conversation(const std::string& owner_id, const std::string& id,
                                                const ReadOptions& options) {
  if ((owner_id + id).find('\0') != std::string::npos) return not_found("conversation " + id + " not found");
  Result<Conversation> out = not_found("conversation " + id + " not found");
  CS_RETURN_IF_ERROR(db_.read(options, "get_conversation", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_conv_get", id, owner_id);
    if (!rows.empty()) out = conversation_from(rows[0], cipher_);
    return Status::ok();
  }));
  return out;
}

Result<PageOf<Conversation>> PgStores::list_conversations(const std::string& owner_id, const Page& page,
                                                          const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  std::vector<std::string> after;
  if (!page.cursor.empty()) {
    CS_ASSIGN_OR_RETURN(after, internal::decode_cursor("c", 2, page.cursor));
    char* end = nullptr;
    const double updated = std::strtod(after[0].c_str(), &end);
    if (after[0].empty() || end != after[0].c_str() + after[0].size() || !std::isfinite(updated))
      return invalid_argument("malformed cursor");
  }
  if (owner_id.find('\0') != std::string::npos) return PageOf<Conversation>{};
  PageOf<Conversation> out;
  Status listed = db_.read(options, "list_conversations", [&](pqxx::transaction_base& tx) -> Status {
    out = PageOf<Conversation>{};  // a retry on another server starts over
    const long long fetch = page.limit + 1LL;  // one more tells whether a next page exists
    auto rows = after.empty() ? tx.exec_prepared("cs_conv_list_first", owner_id, fetch)
                              : tx.exec_prepared("cs_conv_list_after", owner_id, fetch, after[0], after[1]);
    for (const auto& row : rows) {
      if (out.items.size() == static_cast<std::size_t>(page.limit)) {
        const Conversation& last = out.items.back();
        out.next_cursor = internal::encode_cursor("c", {f8(last.updated_at), last.id});
        break;
      }
      CS_ASSIGN_OR_RETURN(Conversation c, conversation_from(row, cipher_));
      out.items.push_back(std::move(c));
    }
    return Status::ok();
  });
  if (!listed.is_ok()) return listed;
  return out;
}

Result<Written<Conversation>> PgStores::rename_conversation(const std::string& owner_id, const std::string& id,
                                                            const std::string& title, double now) {
  if ((owner_id + id).find('\0') != std::string::npos) return not_found("conversation " + id + " not found");
  CS_ASSIGN_OR_RETURN(std::string sealed, cipher_.seal(title, title_binding(id)));
  Conversation c;
  Result<Lsn> lsn = db_.write("rename_conversation", [&](pqxx::transaction_base& tx) -> Status {
    auto rows = tx.exec_prepared("cs_conv_rename", id, owner_id, sealed, f8(now));
    if (rows.empty()) return not_found("conversation " + id + " not found");
    CS_ASSIGN_OR_RETURN(c, conversation_from(rows[0], cipher_));
    return Status::ok();
  });
  if (!lsn.is_ok()) return lsn.status();
  return Written<Conversation>{c, *lsn};
}

Result<Lsn> PgStores::delete_conversation(const std::string& owner_id, const std::string& id) {
  if ((owner_id + id).find('\0') != std::string::npos) return not_found("conversation " + id + " not found");
  return db_.write("delete_conversation", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_conv_delete", id, owner_id);
    if (rows.affected_rows() == 0) return not_found("conversation " + id + " not found");
    return Status::ok();
  });
}

// ---- usage -------------------------------------------------------------------------------------------

Result<Lsn> PgStores::record_usage(const std::string& user_id, const std::string& model, const Usage& usage,
                                   double now) {
  CS_RETURN_IF_ERROR(check_text("user id", user_id));
  CS_RETURN_IF_ERROR(check_text("model", model));
  return db_.write("record_usage", [&](pqxx::transaction_base& tx) {
    tx.exec_prepared("cs_usage_add", user_id, model, day_of(now), static_cast<long long>(usage.prompt_tokens),
                     static_cast<long long>(usage.completion_tokens));
    return Status::ok();
  });
}

Result<Usage> PgStores::usage_of(const std::string& user_id, const ReadOptions& options) {
  Usage usage;
  CS_RETURN_IF_ERROR(db_.read(options, "usage_of", [&](pqxx::transaction_base& tx) {
    auto row = tx.exec_prepared("cs_usage_total", user_id)[0];
    usage.prompt_tokens = row[0].as<std::int64_t>();
    usage.completion_tokens = row[1].as<std::int64_t>();
    return Status::ok();
  }));
  return usage;
}

// ---- API keys ----------------------------------------------------------------------------------------

Result<Written<ApiKey>> PgStores::create_api_key(const ApiKey& key) {
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"key id", &key.id},
                                     {"user id", &key.user_id},
                                     {"key name", &key.name},
                                     {"key hash", &key.key_hash},
                                     {"key prefix", &key.prefix}})
    CS_RETURN_IF_ERROR(check_text(field, *value));
  ApiKey stored = key;
  if (stored.id.empty()) stored.id = random_id();
  const std::string revoked = f8(stored.revoked_at);
  auto lsn = db_.write("create_api_key", [&](pqxx::transaction_base& tx) {
    tx.exec_prepared("cs_key_insert", stored.id, stored.user_id, stored.name, stored.key_hash, stored.prefix,
                     f8(stored.created_at), stored.revoked_at == 0 ? nullptr : revoked.c_str());
    return Status::ok();
  });
  if (!lsn.is_ok()) {
    if (lsn.status().code() == StatusCode::kAlreadyExists) return already_exists("API key hash already stored");
    return lsn.status();
  }
  return Written<ApiKey>{stored, *lsn};
}

Result<ApiKey> PgStores::find_api_key(const std::string& key_hash, const ReadOptions& options) {
  if (key_hash.find('\0') != std::string::npos) return not_found("API key not found");
  ApiKey key;
  CS_RETURN_IF_ERROR(db_.read(options, "find_api_key", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_key_by_hash", key_hash);
    if (rows.empty()) return not_found("API key not found");
    key = api_key_from(rows[0]);
    return Status::ok();
  }));
  return key;
}

Result<std::vector<ApiKey>> PgStores::list_api_keys(const std::string& user_id, const ReadOptions& options) {
  std::vector<ApiKey> keys;
  if (user_id.find('\0') != std::string::npos) return keys;
  CS_RETURN_IF_ERROR(db_.read(options, "list_api_keys", [&](pqxx::transaction_base& tx) {
    keys.clear();  // a retry on another server starts over
    for (const auto& row : tx.exec_prepared("cs_key_list", user_id)) keys.push_back(api_key_from(row));
    return Status::ok();
  }));
  return keys;
}

Result<Lsn> PgStores::revoke_api_key(const std::string& user_id, const std::string& key_id, double now) {
  if ((user_id + key_id).find('\0') != std::string::npos) return not_found("API key " + key_id + " not found");
  return db_.write("revoke_api_key", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_key_revoke", key_id, user_id, f8(now));
    if (rows.affected_rows() == 0) return not_found("API key " + key_id + " not found");
    return Status::ok();
  });
}

}  // namespace chatscale::db
