#include "prod/db/pg_stores_internal.h"

#include <cstdio>

#include "auth/sodium_util.h"

namespace chatscale::db::internal {

const std::vector<std::pair<std::string, std::string>>& store_statements() {
  static const std::vector<std::pair<std::string, std::string>> kStatements = {
      // users
      {"cs_user_insert",
       "INSERT INTO users (id, email, password_hash, tier, created_at) VALUES ($1, $2, $3, $4, $5::float8)"},
      {"cs_user_by_email",
       "SELECT id, email, password_hash, tier, created_at FROM users WHERE lower(email) = lower($1)"},
      {"cs_user_by_id", "SELECT id, email, password_hash, tier, created_at FROM users WHERE id = $1"},
      // conversations
      {"cs_conv_insert",
       "INSERT INTO conversations (id, owner_id, title, created_at, updated_at, message_count)"
       " VALUES ($1, $2, $3, $4::float8, $4::float8, 0)"},
      {"cs_conv_get",
       "SELECT id, owner_id, title, created_at, updated_at, message_count FROM conversations"
       " WHERE id = $1 AND owner_id = $2"},
      {"cs_conv_list_first",
       "SELECT id, owner_id, title, created_at, updated_at, message_count FROM conversations"
       " WHERE owner_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"},
      {"cs_conv_list_after",
       "SELECT id, owner_id, title, created_at, updated_at, message_count FROM conversations"
       " WHERE owner_id = $1 AND (updated_at, id) < ($3::float8, $4) ORDER BY updated_at DESC, id DESC LIMIT $2"},
      {"cs_conv_rename",
       "UPDATE conversations SET title = $3, updated_at = $4::float8 WHERE id = $1 AND owner_id = $2"
       " RETURNING id, owner_id, title, created_at, updated_at, message_count"},
      {"cs_conv_delete", "DELETE FROM conversations WHERE id = $1 AND owner_id = $2"},
      {"cs_conv_lock", "SELECT message_count FROM conversations WHERE id = $1 AND owner_id = $2 FOR UPDATE"},
      {"cs_conv_bump",
       "UPDATE conversations SET message_count = $2, updated_at = greatest(updated_at, $3::float8) WHERE id = $1"},
      // messages
      {"cs_msg_by_key",
       "SELECT id, conversation_id, seq, role, content, status, finish_reason, prompt_tokens,"
       " completion_tokens, coalesce(idempotency_key, ''), model, moderation_categories::text, created_at"
       " FROM messages WHERE conversation_id = $1 AND idempotency_key = $2"},
      {"cs_msg_insert",
       "INSERT INTO messages (id, conversation_id, seq, role, content, status, finish_reason, prompt_tokens,"
       " completion_tokens, idempotency_key, model, moderation_categories, created_at)"
       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::float8)"
       " ON CONFLICT (conversation_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
       " RETURNING id"},
      {"cs_msg_update",
       "UPDATE messages m SET content = $4, status = $5, finish_reason = $6, prompt_tokens = $7,"
       " completion_tokens = $8, moderation_categories = $9::jsonb, updated_at = now() FROM conversations c"
       " WHERE m.id = $1 AND m.conversation_id = $2 AND c.id = m.conversation_id AND c.owner_id = $3"},
      {"cs_msg_end_stale",
       "UPDATE messages SET status = 'partial', finish_reason = 'error', updated_at = now()"
       " WHERE status = 'streaming' AND updated_at < now() - make_interval(secs => $1::float8)"},
      {"cs_msg_get",
       "SELECT m.id, m.conversation_id, m.seq, m.role, m.content, m.status, m.finish_reason, m.prompt_tokens,"
       " m.completion_tokens, coalesce(m.idempotency_key, ''), m.model, m.moderation_categories::text,"
       " m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id"
       " WHERE m.id = $1 AND m.conversation_id = $2 AND c.owner_id = $3"},
      // One row per message, or one row of NULLs for an owned empty conversation, or no row when the
      // conversation is not the owner's.
      {"cs_msg_recent",
       "SELECT m.id, m.conversation_id, m.seq, m.role, m.content, m.status, m.finish_reason, m.prompt_tokens,"
       " m.completion_tokens, coalesce(m.idempotency_key, ''), m.model, m.moderation_categories::text,"
       " m.created_at FROM conversations c LEFT JOIN LATERAL (SELECT * FROM messages"
       " WHERE conversation_id = c.id ORDER BY seq DESC LIMIT $3) m ON true"
       " WHERE c.id = $1 AND c.owner_id = $2 ORDER BY m.seq"},
      {"cs_msg_list",
       "SELECT m.id, m.conversation_id, m.seq, m.role, m.content, m.status, m.finish_reason, m.prompt_tokens,"
       " m.completion_tokens, coalesce(m.idempotency_key, ''), m.model, m.moderation_categories::text,"
       " m.created_at FROM conversations c LEFT JOIN LATERAL (SELECT * FROM messages"
       " WHERE conversation_id = c.id AND seq > $3 ORDER BY seq LIMIT $4) m ON true"
       " WHERE c.id = $1 AND c.owner_id = $2 ORDER BY m.seq"},
      // usage
      {"cs_usage_add",
       "INSERT INTO usage AS u (user_id, model, day, prompt_tokens, completion_tokens, requests)"
       " VALUES ($1, $2, DATE '1970-01-01' + $3::integer, $4, $5, 1)"
       " ON CONFLICT (user_id, day, model) DO UPDATE SET prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,"
       " completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, requests = u.requests + 1"},
      {"cs_usage_total",
       "SELECT coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint"
       " FROM usage WHERE user_id = $1"},
      // API keys
      {"cs_key_insert",
       "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at, revoked_at)"
       " VALUES ($1, $2, $3, $4, $5, $6::float8, $7::float8)"},
      {"cs_key_by_hash",
       "SELECT id, user_id, name, key_hash, prefix, created_at, coalesce(revoked_at, 0) FROM api_keys"
       " WHERE key_hash = $1"},
      {"cs_key_list",
       "SELECT id, user_id, name, key_hash, prefix, created_at, coalesce(revoked_at, 0) FROM api_keys"
       " WHERE user_id = $1 ORDER BY created_at DESC, id DESC"},
      {"cs_key_revoke",
       "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3::float8) WHERE id = $1 AND user_id = $2"},
      // stop requests (0004_stop_requests.sql)
      {"cs_msg_request_stop",
       "UPDATE messages m SET stop_requested_at = coalesce(m.stop_requested_at, $4::float8) FROM conversations c"
       " WHERE m.id = $1 AND m.conversation_id = $2 AND c.id = m.conversation_id AND c.owner_id = $3"},
      {"cs_msg_stop_requests",
       "SELECT id FROM messages WHERE id = ANY($1::text[]) AND stop_requested_at IS NOT NULL"},
      // refresh tokens (0003_refresh_tokens.sql)
      {"cs_rt_family_insert",
       "INSERT INTO refresh_families (id, user_id, created_at) VALUES ($1, $2, $3::float8)"},
      {"cs_rt_insert",
       "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)"
       " VALUES ($1, $2, $3, $4::float8, $5::float8)"},
      // Locks the token and its family: concurrent rotations of one token, and a rotation racing a
      // logout, run one after the other and each sees the other's write.
      {"cs_rt_lock",
       "SELECT t.family_id, t.user_id, t.issued_at, t.expires_at, coalesce(t.rotated_at, 0),"
       " coalesce(f.revoked_at, 0) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
       " WHERE t.token_hash = $1 FOR UPDATE"},
      {"cs_rt_rotate", "UPDATE refresh_tokens SET rotated_at = $2::float8 WHERE token_hash = $1"},
      {"cs_rt_family_revoke",
       "UPDATE refresh_families SET revoked_at = coalesce(revoked_at, $2::float8) WHERE id = $1"},
      {"cs_rt_user_revoke",
       "UPDATE refresh_families SET revoked_at = $2::float8 WHERE user_id = $1 AND revoked_at IS NULL"},
  };
  return kStatements;
}

std::string f8(double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

Status check_limit(int limit) {
  if (limit < 1 || limit > 1000) return invalid_argument("page limit must be between 1 and 1000");
  return Status::ok();
}

Status check_text(std::string_view field, std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    return invalid_argument(std::string(field) + " must not contain NUL characters");
  return Status::ok();
}

std::string encode_cursor(std::string_view tag, const std::vector<std::string>& fields) {
  std::string text(tag);
  for (const auto& f : fields) {
    text += '|';
    text += f;
  }
  return base64url_encode(text);
}

Result<std::vector<std::string>> decode_cursor(std::string_view tag, std::size_t fields, std::string_view cursor) {
  auto text = base64url_decode(cursor);
  if (!text.is_ok()) return invalid_argument("malformed cursor");
  std::vector<std::string> parts;
  std::string_view rest = *text;
  while (true) {
    // The last field keeps any '|' it holds.
    const auto bar = parts.size() == fields ? std::string_view::npos : rest.find('|');
    parts.emplace_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  if (parts.size() != fields + 1 || parts[0] != tag) return invalid_argument("malformed cursor");
  parts.erase(parts.begin());
  return parts;
}

}  // namespace chatscale::db::internal
