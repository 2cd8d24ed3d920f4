// `chatscale migrate`: brings the PostgreSQL database to the newest schema (prod/db/migrations.h).
//
//   chatscale migrate --dsn "host=... port=... dbname=... user=..."
//   chatscale migrate --config serve.yaml        (reads database.primary.dsn, or .dsn_env)
//   chatscale migrate --config serve.yaml --rotate-content-keys [--batch N]
//       then re-seals rows not under the first of secrets.content_keys (prod/db/key_rotation.h)
//
// Prints how many migrations it applied and the schema version. Exit codes: 0 success (also when
// nothing was left to apply), 1 the database failed (unreachable, a migration failed), 2 bad input
// (arguments, an unreadable or malformed config file: "file:line: field: problem").
// Thread-safety: one call at a time per process is the intended use; concurrent processes are safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "prod/db/content_cipher.h"

namespace chatscale::db {

int migrate_command(const std::vector<std::string>& args);

// The primary's DSN from a serve.yaml (database.primary.dsn, or the variable database.primary.dsn_env
// names). InvalidArgument "file:line: field: problem" when absent or malformed; NotFound when the file
// cannot be read.
Result<std::string> primary_dsn_from_config(const std::string& path);

// secrets.content_keys of a serve.yaml ([{id, key | key_env: base64 of 32 bytes}]), in order.
// InvalidArgument "file:line: field: problem" (never echoing a key); NotFound when unreadable.
Result<std::vector<ContentKey>> content_keys_from_config(const std::string& path);

}  // namespace chatscale::db
