// Maps libpqxx exceptions to Status at the PostgreSQL adapter boundary (prod/db), so no exception
// leaves the adapter and no row data leaves it either: texts name the operation and the SQLSTATE, never
// the server's message for data errors (its DETAIL can quote values such as an e-mail address). A
// failed connection keeps the first line of libpq's message (it names the host, never row data).
//
// Mapping: broken connection, connection-class SQLSTATEs (08...), server shutdown or not yet accepting
// (57P01..57P03), insufficient resources (53...), lock timeouts (55P03), serialization failures and
// deadlocks (40...), a read-only transaction (25006: the server is a standby) and a commit whose outcome
// is unknown (in_doubt_error) -> Unavailable (retryable). A statement cancelled by statement_timeout
// (57014) -> DeadlineExceeded. Unique violations (23505) -> AlreadyExists. Anything else -> Internal.
// Thread-safety: pure functions.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "core/status.h"

namespace chatscale::db {

// The Status for an exception caught while running `operation` (e.g. "append_message").
Status pg_status(const std::exception& e, std::string_view operation);

// The SQLSTATE of a pqxx::sql_error, or "" for other exceptions.
std::string pg_sqlstate(const std::exception& e);

}  // namespace chatscale::db
