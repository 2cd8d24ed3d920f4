#include "prod/db/key_rotation.h"

#include <pqxx/pqxx>

#include "prod/db/pg_error.h"
#include "prod/db/pg_stores.h"

namespace chatscale::db {
namespace {

constexpr const char* kSelectMessages =
    "SELECT id, conversation_id, content FROM messages WHERE NOT starts_with(content, $1)"
    " LIMIT $2 FOR UPDATE";
constexpr const char* kUpdateMessage = "UPDATE messages SET content = $2 WHERE id = $1";
constexpr const char* kSelectTitles =
    "SELECT id, title FROM conversations WHERE NOT starts_with(title, $1) LIMIT $2 FOR UPDATE";
constexpr const char* kUpdateTitle = "UPDATE conversations SET title = $2 WHERE id = $1";

// Re-seals `sealed` (bound to `binding`) under the current key.
Result<std::string> reseal(const ContentCipher& cipher, const std::string& sealed, const std::string& binding) {
  auto plain = cipher.open(sealed, binding);
  if (!plain.is_ok()) {
    auto id = ContentCipher::key_id_of(sealed);
    if (plain.status().code() == StatusCode::kFailedPrecondition)
      return failed_precondition("a row is sealed under content key \"" + std::string(id.value_or("?")) +
                                 "\", which is not in the configured keys; add it (after the new key) and rerun");
    return plain.status();
  }
  return cipher.seal(*plain, binding);
}

// One batch of messages; returns how many it re-sealed.
Result<std::int64_t> message_batch(pqxx::connection& conn, const ContentCipher& cipher, int batch_size) {
  pqxx::work tx(conn);
  auto rows = tx.exec_params(kSelectMessages, cipher.current_prefix(), batch_size);
  for (const auto& row : rows) {
    const std::string id = row[0].as<std::string>();
    CS_ASSIGN_OR_RETURN(std::string sealed, reseal(cipher, row[2].as<std::string>(),
                                                   PgStores::message_binding(row[1].as<std::string>(), id)));
    tx.exec_params(kUpdateMessage, id, sealed);
  }
  tx.commit();
  return static_cast<std::int64_t>(rows.size());
}

Result<std::int64_t> title_batch(pqxx::connection& conn, const ContentCipher& cipher, int batch_size) {
  pqxx::work tx(conn);
  auto rows = tx.exec_params(kSelectTitles, cipher.current_prefix(), batch_size);
  for (const auto& row : rows) {
    const std::string id = row[0].as<std::string>();
    CS_ASSIGN_OR_RETURN(std::string sealed, reseal(cipher, row[1].as<std::string>(), PgStores::title_binding(id)));
    tx.exec_params(kUpdateTitle, id, sealed);
  }
  tx.commit();
  return static_cast<std::int64_t>(rows.size());
}

}  // namespace

Result<RotationReport> rotate_content_keys(const std::string& dsn, const ContentCipher& cipher, int batch_size) {
  if (batch_size < 1) return invalid_argument("rotation batch size must be at least 1");
  RotationReport report;
  try {
    pqxx::connection conn(dsn);
    while (true) {
      CS_ASSIGN_OR_RETURN(std::int64_t n, message_batch(conn, cipher, batch_size));
      report.messages += n;
      if (n == 0) break;
    }
    while (true) {
      CS_ASSIGN_OR_RETURN(std::int64_t n, title_batch(conn, cipher, batch_size));
      report.conversations += n;
      if (n == 0) break;
    }
  } catch (const std::exception& e) {
    return pg_status(e, "rotate_content_keys");
  }
  return report;
}

}  // namespace chatscale::db
