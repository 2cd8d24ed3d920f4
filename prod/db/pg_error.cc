#include "prod/db/pg_error.h"

#include <pqxx/except>

namespace chatscale::db {

std::string pg_sqlstate(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) return sql->sqlstate();
  return "";
}

namespace {

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

bool retryable_state(const std::string& state) {
  return starts_with(state, "08") || starts_with(state, "53") || starts_with(state, "40") ||
         state == "57P01" || state == "57P02" || state == "57P03" || state == "55P03" || state == "25006";
}

}  // namespace

Status pg_status(const std::exception& e, std::string_view operation) {
  const std::string op(operation);
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr)
    return unavailable(op + ": the connection was lost during commit; the outcome is unknown");
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    return unavailable(op + ": database connection failed or was lost" + (why.empty() ? "" : ": " + why));
  }
  const std::string state = pg_sqlstate(e);
  if (state == "57014") return deadline_exceeded(op + ": statement timeout (query cancelled)");
  if (state == "23505") return already_exists(op + ": unique constraint violated");
  if (retryable_state(state)) return unavailable(op + ": database unavailable (SQLSTATE " + state + ")");
  if (!state.empty()) return internal_error(op + ": database error (SQLSTATE " + state + ")");
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr) return unavailable(op + ": database failure");
  return internal_error(op + ": unexpected error in the database adapter");
}

}  // namespace chatscale::db
