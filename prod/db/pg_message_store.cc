// The MessageStore half of PgStores (see pg_stores.h).
#include <cctype>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "prod/db/pg_stores.h"
#include "prod/db/pg_stores_internal.h"

namespace chatscale::db {

using internal::check_limit;
using internal::check_text;
using internal::f8;

namespace {

template <typename E, typename NameFn>
Result<E> parse_enum(std::string_view text, std::initializer_list<E> values, NameFn name) {
  for (E v : values)
    if (name(v) == text) return v;
  return internal_error("stored message has an unknown enum value");
}

std::string categories_json(const std::vector<std::string>& categories) {
  return nlohmann::json(categories).dump();
}

Result<std::vector<std::string>> categories_from(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) return internal_error("stored moderation categories are malformed");
  std::vector<std::string> out;
  for (const auto& v : parsed) {
    if (!v.is_string()) return internal_error("stored moderation categories are malformed");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Columns: id, conversation_id, seq, role, content, status, finish_reason, prompt_tokens,
// completion_tokens, idempotency_key ('' for none), model, moderation_categories (json text), created_at.
Result<Message> message_from(const pqxx::row& r, const ContentCipher& cipher) {
  Message m;
  m.id = r[0].as<std::string>();
  m.conversation_id = r[1].as<std::string>();
  m.seq = r[2].as<std::int64_t>();
  auto role = parse_role(r[3].as<std::string>());
  if (!role) return internal_error("stored message has an unknown role");
  m.role = *role;
  CS_ASSIGN_OR_RETURN(m.content, cipher.open(r[4].as<std::string>(),
                                             PgStores::message_binding(m.conversation_id, m.id)));
  CS_ASSIGN_OR_RETURN(m.status, parse_enum(r[5].as<std::string>(),
                                           {MessageStatus::kStreaming, MessageStatus::kComplete, MessageStatus::kPartial},
                                           message_status_name));
  CS_ASSIGN_OR_RETURN(m.finish_reason,
                      parse_enum(r[6].as<std::string>(),
                                 {FinishReason::kNone, FinishReason::kStop, FinishReason::kLength,
                                  FinishReason::kContentFilter, FinishReason::kError, FinishReason::kCancelled},
                                 finish_reason_name));
  m.usage.prompt_tokens = r[7].as<std::int64_t>();
  m.usage.completion_tokens = r[8].as<std::int64_t>();
  m.idempotency_key = r[9].as<std::string>();
  m.model = r[10].as<std::string>();
  CS_ASSIGN_OR_RETURN(m.moderation_categories, categories_from(r[11].as<std::string>()));
  m.created_at = r[12].as<double>();
  return m;
}

Status check_message_text(const Message& m) {
  CS_RETURN_IF_ERROR(check_text("message id", m.id));
  CS_RETURN_IF_ERROR(check_text("idempotency key", m.idempotency_key));
  CS_RETURN_IF_ERROR(check_text("model", m.model));
  for (const auto& c : m.moderation_categories) CS_RETURN_IF_ERROR(check_text("moderation category", c));
  return Status::ok();
}

bool has_nul(const std::string& a, const std::string& b, const std::string& c = "") {
  return a.find('\0') != std::string::npos || b.find('\0') != std::string::npos || c.find('\0') != std::string::npos;
}

}  // namespace

Result<Written<Message>> PgStores::append_message(const std::string& owner_id, const Message& message) {
  if (has_nul(owner_id, message.conversation_id))
    return not_found("conversation " + message.conversation_id + " not found");
  CS_RETURN_IF_ERROR(check_message_text(message));
  Message m = message;
  if (m.id.empty()) m.id = random_id();
  CS_ASSIGN_OR_RETURN(std::string sealed, cipher_.seal(m.content, message_binding(m.conversation_id, m.id)));
  const std::string categories = categories_json(m.moderation_categories);
  bool existing = false;
  Result<Lsn> lsn = db_.write("append_message", [&](pqxx::transaction_base& tx) -> Status {
    // Locks the conversation: appends to one conversation are serialised (seq, message_count).
    auto conv = tx.exec_prepared("cs_conv_lock", m.conversation_id, owner_id);
    if (conv.empty()) return not_found("conversation " + m.conversation_id + " not found");
    auto find_twin = [&]() -> Status {
      auto rows = tx.exec_prepared("cs_msg_by_key", m.conversation_id, m.idempotency_key);
      if (rows.empty()) return internal_error("append_message: idempotency conflict without a stored twin");
      CS_ASSIGN_OR_RETURN(m, message_from(rows[0], cipher_));
      existing = true;
      return Status::ok();
    };
    if (!m.idempotency_key.empty() && !tx.exec_prepared("cs_msg_by_key", m.conversation_id, m.idempotency_key).empty())
      return find_twin();
    m.seq = conv[0][0].as<std::int64_t>() + 1;
    auto inserted = tx.exec_prepared(
        "cs_msg_insert", m.id, m.conversation_id, static_cast<long long>(m.seq), std::string(role_name(m.role)),
        sealed, std::string(message_status_name(m.status)), std::string(finish_reason_name(m.finish_reason)),
        static_cast<long long>(m.usage.prompt_tokens), static_cast<long long>(m.usage.completion_tokens),
        m.idempotency_key.empty() ? nullptr : m.idempotency_key.c_str(), m.model, categories, f8(m.created_at));
    if (inserted.empty()) return find_twin();  // ON CONFLICT DO NOTHING: the key's row exists
    tx.exec_prepared("cs_conv_bump", m.conversation_id, static_cast<long long>(m.seq), f8(m.created_at));
    return Status::ok();
  });
  if (!lsn.is_ok()) return lsn.status();
  return Written<Message>{m, *lsn, existing};
}

Result<Lsn> PgStores::update_message(const std::string& owner_id, const Message& message) {
  if (has_nul(owner_id, message.conversation_id, message.id)) return not_found("message " + message.id + " not found");
  for (const auto& c : message.moderation_categories) CS_RETURN_IF_ERROR(check_text("moderation category", c));
  CS_ASSIGN_OR_RETURN(std::string sealed,
                      cipher_.seal(message.content, message_binding(message.conversation_id, message.id)));
  return db_.write("update_message", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_msg_update", message.id, message.conversation_id, owner_id, sealed,
                                 std::string(message_status_name(message.status)),
                                 std::string(finish_reason_name(message.finish_reason)),
                                 static_cast<long long>(message.usage.prompt_tokens),
                                 static_cast<long long>(message.usage.completion_tokens),
                                 categories_json(message.moderation_categories));
    if (rows.affected_rows() == 0) return not_found("message " + message.id + " not found");
    return Status::ok();
  });
}

Result<std::int64_t> PgStores::end_stale_answers(double stale_after_s) {
  if (!(stale_after_s >= 0)) return invalid_argument("end_stale_answers: stale_after_s must be >= 0");
  std::int64_t ended = 0;
  Result<Lsn> lsn = db_.write("end_stale_answers", [&](pqxx::transaction_base& tx) {
    ended = static_cast<std::int64_t>(tx.exec_prepared("cs_msg_end_stale", f8(stale_after_s)).affected_rows());
    return Status::ok();
  });
  if (!lsn.is_ok()) return lsn.status();
  return ended;
}

Result<Lsn> PgStores::request_stop(const std::string& owner_id, const std::string& conversation_id,
                                   const std::string& message_id, double now) {
  if (has_nul(owner_id, conversation_id, message_id)) return not_found("message " + message_id + " not found");
  return db_.write("request_stop", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_msg_request_stop", message_id, conversation_id, owner_id, f8(now));
    if (rows.affected_rows() == 0) return not_found("message " + message_id + " not found");
    return Status::ok();
  });
}

// Ids are the service's own (hex); anything else cannot match and is left out of the array literal.
Result<std::vector<std::string>> PgStores::stop_requests(const std::vector<std::string>& message_ids) {
  std::string array = "{";
  for (const auto& id : message_ids) {
    bool plain = !id.empty();
    for (char c : id) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!plain) continue;
    if (array.size() > 1) array += ',';
    array += id;
  }
  array += '}';
  std::vector<std::string> out;
  if (array.size() == 2) return out;
  CS_RETURN_IF_ERROR(db_.read(ReadOptions{0, 0, true}, "stop_requests", [&](pqxx::transaction_base& tx) {
    out.clear();
    for (const auto& row : tx.exec_prepared("cs_msg_stop_requests", array)) out.push_back(row[0].as<std::string>());
    return Status::ok();
  }));
  return out;
}

Result<Message> PgStores::get_message(const std::string& owner_id, const std::string& conversation_id,
                                      const std::string& message_id, const ReadOptions& options) {
  if (has_nul(owner_id, conversation_id, message_id)) return not_found("message " + message_id + " not found");
  Result<Message> out = not_found("message " + message_id + " not found");
  CS_RETURN_IF_ERROR(db_.read(options, "get_message", [&](pqxx::transaction_base& tx) {
    auto rows = tx.exec_prepared("cs_msg_get", message_id, conversation_id, owner_id);
    if (!rows.empty()) out = message_from(rows[0], cipher_);
    return Status::ok();
  }));
  return out;
}

namespace {

// Rows of cs_msg_recent / cs_msg_list: none when the conversation is not the owner's, one row of NULLs
// for an owned conversation without (further) messages.
Status messages_from(const pqxx::result& rows, const std::string& conversation_id, const ContentCipher& cipher,
                     std::vector<Message>& out) {
  if (rows.empty()) return not_found("conversation " + conversation_id + " not found");
  for (const auto& row : rows) {
    if (row[0].is_null()) continue;
    CS_ASSIGN_OR_RETURN(Message m, message_from(row, cipher));
    out.push_back(std::move(m));
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<Message>> PgStores::recent_messages(const std::string& owner_id, const std::string& conversation_id,
                                                       int limit, const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(limit));
  if (has_nul(owner_id, conversation_id)) return not_found("conversation " + conversation_id + " not found");
  std::vector<Message> out;
  CS_RETURN_IF_ERROR(db_.read(options, "recent_messages", [&](pqxx::transaction_base& tx) {
    out.clear();
    return messages_from(tx.exec_prepared("cs_msg_recent", conversation_id, owner_id, limit), conversation_id,
                         cipher_, out);
  }));
  return out;
}

Result<PageOf<Message>> PgStores::list_messages(const std::string& owner_id, const std::string& conversation_id,
                                                const Page& page, const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  long long after_seq = 0;
  if (!page.cursor.empty()) {
    CS_ASSIGN_OR_RETURN(auto fields, internal::decode_cursor("m", 1, page.cursor));
    char* end = nullptr;
    after_seq = std::strtoll(fields[0].c_str(), &end, 10);
    if (fields[0].empty() || end != fields[0].c_str() + fields[0].size() || after_seq < 0)
      return invalid_argument("malformed cursor");
  }
  if (has_nul(owner_id, conversation_id)) return not_found("conversation " + conversation_id + " not found");
  PageOf<Message> out;
  Status listed = db_.read(options, "list_messages", [&](pqxx::transaction_base& tx) -> Status {
    out.items.clear();
    CS_RETURN_IF_ERROR(messages_from(tx.exec_prepared("cs_msg_list", conversation_id, owner_id, after_seq,
                                                      page.limit + 1LL),
                                     conversation_id, cipher_, out.items));
    if (out.items.size() > static_cast<std::size_t>(page.limit)) {
      out.items.resize(static_cast<std::size_t>(page.limit));
      out.next_cursor = internal::encode_cursor("m", {std::to_string(out.items.back().seq)});
    }
    return Status::ok();
  });
  if (!listed.is_ok()) return listed;
  return out;
}

}  // namespace chatscale::db
