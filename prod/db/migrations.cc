#include "prod/db/migrations.h"

#include <sodium.h>

#include <exception>
#include <map>
#include <pqxx/pqxx>

#include "prod/db/pg_error.h"

namespace chatscale::db {
namespace {

std::string sha256_hex(std::string_view text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

Status check_order(const std::vector<Migration>& migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version < 1) return internal_error("migration versions start at 1");
    if (i > 0 && migrations[i].version <= migrations[i - 1].version)
      return internal_error("migrations must be ordered by version without duplicates");
  }
  return Status::ok();
}

// version -> checksum of every recorded migration.
std::map<int, std::string> applied(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  std::map<int, std::string> out;
  for (const auto& row : tx.exec("SELECT version, checksum FROM schema_migrations"))
    out[row[0].as<int>()] = row[1].as<std::string>();
  return out;
}

// Applies one migration and its schema_migrations row in one transaction.
Status apply_one(pqxx::connection& conn, const Migration& m, const std::string& checksum) {
  try {
    pqxx::work tx(conn);
    tx.exec(std::string(m.sql));
    tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.version,
                   m.name, checksum);
    tx.commit();
    return Status::ok();
  } catch (const pqxx::broken_connection& e) {
    return pg_status(e, "migrate");
  } catch (const pqxx::in_doubt_error& e) {
    return pg_status(e, "migrate");
  } catch (const std::exception& e) {
    // DDL errors name schema objects, not user data: PostgreSQL's message helps the operator.
    return internal_error("migration " + std::to_string(m.version) + "_" + m.name + " failed: " + e.what());
  }
}

Result<int> migrate_locked(pqxx::connection& conn, const std::vector<Migration>& migrations) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec(kCreateTable);
  }
  const auto done = applied(conn);
  int count = 0;
  for (const auto& m : migrations) {
    const std::string checksum = sha256_hex(m.sql);
    auto it = done.find(m.version);
    if (it != done.end()) {
      if (it->second != checksum)
        return failed_precondition("migration " + std::to_string(m.version) + "_" + m.name +
                                   " was applied from a different file (checksum mismatch); never edit an "
                                   "applied migration, add a new one");
      continue;
    }
    CS_RETURN_IF_ERROR(apply_one(conn, m, checksum));
    ++count;
  }
  return count;
}

}  // namespace

Result<int> apply_migrations(const std::string& dsn) { return apply_migrations(dsn, embedded_migrations()); }

Result<int> apply_migrations(const std::string& dsn, const std::vector<Migration>& migrations) {
  CS_RETURN_IF_ERROR(check_order(migrations));
  try {
    pqxx::connection conn(dsn);
    {
      pqxx::nontransaction tx(conn);
      tx.exec("SET lock_timeout = 0");
      tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    }
    Result<int> result = migrate_locked(conn, migrations);
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    return result;
  } catch (const std::exception& e) {
    // Closing the connection releases the advisory lock.
    if (pg_sqlstate(e).empty()) return pg_status(e, "migrate");
    return internal_error(std::string("migrate: ") + e.what());
  }
}

Result<int> schema_version(const std::string& dsn) {
  try {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    auto row = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    return row[0][0].as<int>();
  } catch (const std::exception& e) {
    return pg_status(e, "schema_version");
  }
}

}  // namespace chatscale::db
