// Schema migrations of the chat service's PostgreSQL database. The SQL files prod/db/migrations/
// NNNN_name.sql are compiled into the binary (CMake embeds them; see prod/db/CMakeLists.txt), so
// `chatscale migrate` needs nothing but a DSN.
//
// apply_migrations(dsn) brings a database to the newest schema:
// - It opens one connection, takes a session-level pg_advisory_lock (kMigrationLockKey), so two
//   processes migrating at once run one after the other; the second finds nothing left to do.
// - It creates schema_migrations (version, name, checksum, applied_at) when absent, then applies each
//   embedded migration whose version is not recorded, in version order, each in its own transaction
//   together with its schema_migrations row: a failing migration leaves no trace and stops the run.
// - An applied migration whose recorded checksum (SHA-256 of the file) differs from the embedded file
//   is FailedPrecondition (an edited migration); versions the binary does not know (a newer binary
//   migrated the database) are left alone.
// Returns how many migrations it applied (0 when the schema was current): idempotent.
//
// Ownership: the connection lives for one call. Thread-safety: any number of concurrent calls, in any
// number of processes. Failure: errors are values (libpqxx exceptions are caught): the server
// unreachable or a lost connection is Unavailable, a failing statement Internal naming the migration
// and PostgreSQL's message, a malformed embedded file name Internal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale::db {

struct Migration {
  int version = 0;        // NNNN of the file name
  std::string name;       // the rest of the file name, without ".sql"
  std::string_view sql;   // the file's text (embedded, static storage)
};

// pg_advisory_lock key for migrations ("chatscal" in ASCII).
inline constexpr long long kMigrationLockKey = 0x6368617473636C;

// Every embedded migration, ordered by version (generated at build time).
const std::vector<Migration>& embedded_migrations();

Result<int> apply_migrations(const std::string& dsn);
// Same, over a given list (tests); the list must be ordered by version with unique versions.
Result<int> apply_migrations(const std::string& dsn, const std::vector<Migration>& migrations);

// The newest recorded schema version of the database (0 when none is recorded).
Result<int> schema_version(const std::string& dsn);

}  // namespace chatscale::db
