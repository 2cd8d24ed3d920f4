// PgStores' RefreshTokenStore (0003_refresh_tokens.sql): families and their tokens, hashes only.
// Rotation locks the token and family rows (cs_rt_lock ... FOR UPDATE), so two refreshes of one token
// run one after the other: the first rotates, the second sees rotated_at and revokes the family.
#include <pqxx/pqxx>

#include "prod/db/pg_stores.h"
#include "prod/db/pg_stores_internal.h"

namespace chatscale::db {

using internal::check_text;
using internal::f8;

namespace {

Status check_token(const RefreshToken& token) {
  CS_RETURN_IF_ERROR(check_text("token hash", token.token_hash));
  CS_RETURN_IF_ERROR(check_text("family id", token.family_id));
  return check_text("user id", token.user_id);
}

void insert_token(pqxx::transaction_base& tx, const RefreshToken& token) {
  tx.exec_prepared("cs_rt_insert", token.token_hash, token.family_id, token.user_id, f8(token.issued_at),
                   f8(token.expires_at));
}

}  // namespace

Result<Lsn> PgStores::create_refresh_token(const RefreshToken& token) {
  CS_RETURN_IF_ERROR(check_token(token));
  auto lsn = db_.write("create_refresh_token", [&](pqxx::transaction_base& tx) {
    tx.exec_prepared("cs_rt_family_insert", token.family_id, token.user_id, f8(token.issued_at));
    insert_token(tx, token);
    return Status::ok();
  });
  if (!lsn.is_ok() && lsn.status().code() == StatusCode::kAlreadyExists)
    return already_exists("refresh token hash already stored");
  return lsn;
}

Result<Rotation> PgStores::rotate_refresh_token(const std::string& token_hash, const RefreshToken& successor,
                                                double now) {
  if (token_hash.find('\0') != std::string::npos) return not_found("refresh token not found");
  CS_RETURN_IF_ERROR(check_text("token hash", successor.token_hash));
  Rotation rotation;
  bool wrote = false;
  auto lsn = db_.write("rotate_refresh_token", [&](pqxx::transaction_base& tx) -> Status {
    auto rows = tx.exec_prepared("cs_rt_lock", token_hash);
    if (rows.empty()) return not_found("refresh token not found");
    const auto& r = rows[0];
    rotation = Rotation{};
    rotation.presented = RefreshToken{token_hash,           r[0].as<std::string>(), r[1].as<std::string>(),
                                      r[2].as<double>(),    r[3].as<double>(),      r[4].as<double>()};
    wrote = false;
    if (r[5].as<double>() > 0) {
      rotation.outcome = RotationOutcome::kRevoked;
    } else if (rotation.presented.rotated_at > 0) {
      rotation.outcome = RotationOutcome::kReused;
      tx.exec_prepared("cs_rt_family_revoke", rotation.presented.family_id, f8(now));
      wrote = true;
    } else if (rotation.presented.expires_at <= now) {
      rotation.outcome = RotationOutcome::kExpired;
    } else {
      RefreshToken next = successor;
      next.family_id = rotation.presented.family_id;
      next.user_id = rotation.presented.user_id;
      tx.exec_prepared("cs_rt_rotate", token_hash, f8(now));
      insert_token(tx, next);
      wrote = true;
    }
    return Status::ok();
  });
  if (!lsn.is_ok()) {
    if (lsn.status().code() == StatusCode::kAlreadyExists) return already_exists("refresh token hash already stored");
    return lsn.status();
  }
  rotation.lsn = wrote ? *lsn : 0;
  return rotation;
}

Result<Written<std::string>> PgStores::revoke_refresh_family(const std::string& token_hash, double now) {
  if (token_hash.find('\0') != std::string::npos) return not_found("refresh token not found");
  std::string user_id;
  auto lsn = db_.write("revoke_refresh_family", [&](pqxx::transaction_base& tx) -> Status {
    auto rows = tx.exec_prepared("cs_rt_lock", token_hash);
    if (rows.empty()) return not_found("refresh token not found");
    user_id = rows[0][1].as<std::string>();
    tx.exec_prepared("cs_rt_family_revoke", rows[0][0].as<std::string>(), f8(now));
    return Status::ok();
  });
  if (!lsn.is_ok()) return lsn.status();
  return Written<std::string>{user_id, *lsn};
}

Result<Written<std::int64_t>> PgStores::revoke_user_refresh_families(const std::string& user_id, double now) {
  CS_RETURN_IF_ERROR(check_text("user id", user_id));
  std::int64_t live = 0;
  auto lsn = db_.write("revoke_user_refresh_families", [&](pqxx::transaction_base& tx) {
    live = static_cast<std::int64_t>(tx.exec_prepared("cs_rt_user_revoke", user_id, f8(now)).affected_rows());
    return Status::ok();
  });
  if (!lsn.is_ok()) return lsn.status();
  return Written<std::int64_t>{live, *lsn};
}

}  // namespace chatscale::db
