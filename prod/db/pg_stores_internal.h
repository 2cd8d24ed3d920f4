// Internal helpers of PgStores (pg_stores.cc, pg_message_store.cc): the SQL of every prepared statement,
// parameter formatting and opaque cursors. Not part of the adapter's interface.
// Thread-safety: pure functions and constants.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace chatscale::db::internal {

// (name, SQL) of every statement PgStores prepares.
const std::vector<std::pair<std::string, std::string>>& store_statements();

// A double as PostgreSQL float8 input that reads back to the same double ("%.17g").
std::string f8(double value);

// InvalidArgument when a page limit is outside 1..1000 (the in-memory store's bounds).
Status check_limit(int limit);

// InvalidArgument when `text` holds a NUL byte (PostgreSQL text cannot store it).
Status check_text(std::string_view field, std::string_view text);

// Opaque keyset cursors: base64url of "<tag>|<fields separated by '|'>". decode checks the tag and the
// field count; the fields themselves are checked by the caller.
std::string encode_cursor(std::string_view tag, const std::vector<std::string>& fields);
Result<std::vector<std::string>> decode_cursor(std::string_view tag, std::size_t fields, std::string_view cursor);

}  // namespace chatscale::db::internal
