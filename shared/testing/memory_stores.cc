#include "testing/memory_stores.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace chatscale::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Cursors are decimal positions; anything else is the caller's mistake.
Result<std::size_t> parse_cursor(const std::string& cursor) {
  if (cursor.empty()) return std::size_t{0};
  std::size_t v = 0;
  auto [ptr, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), v);
  if (ec != std::errc() || ptr != cursor.data() + cursor.size()) return invalid_argument("malformed cursor");
  return v;
}

Status check_limit(int limit) {
  if (limit < 1 || limit > 1000) return invalid_argument("page limit must be between 1 and 1000");
  return Status::ok();
}

}  // namespace

Status MemoryStore::begin_write() {
  if (writes_left_ == 0) return unavailable("injected database write failure");
  if (writes_left_ > 0) --writes_left_;
  ++writes_;
  ++lsn_;
  return Status::ok();
}

void MemoryStore::begin_read(const ReadOptions& options) {
  ++reads_;
  last_read_min_lsn_ = options.min_lsn;
}

std::string MemoryStore::next_id(const char* prefix) { return std::string(prefix) + std::to_string(next_id_++); }

Result<MemoryStore::StoredConversation*> MemoryStore::owned(const std::string& owner_id, const std::string& id) {
  auto it = conversations_.find(id);
  if (it == conversations_.end() || it->second.conversation.owner_id != owner_id)
    return not_found("conversation " + id + " not found");
  return &it->second;
}

Result<Written<User>> MemoryStore::create_user(const User& user) {
  std::lock_guard lock(mu_);
  std::string key = lower(user.email);
  if (user_by_email_.count(key)) return already_exists("e-mail already registered");
  CS_RETURN_IF_ERROR(begin_write());
  User stored = user;
  if (stored.id.empty()) stored.id = next_id("u");
  users_[stored.id] = stored;
  user_by_email_[key] = stored.id;
  return Written<User>{stored, lsn_};
}

Result<User> MemoryStore::find_user_by_email(const std::string& email, const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  auto it = user_by_email_.find(lower(email));
  if (it == user_by_email_.end()) return not_found("user not found");
  return users_.at(it->second);
}

Result<User> MemoryStore::find_user(const std::string& user_id, const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  auto it = users_.find(user_id);
  if (it == users_.end()) return not_found("user not found");
  return it->second;
}

Result<Written<Conversation>> MemoryStore::create_conversation(const std::string& owner_id,
                                                               const std::string& title, double now) {
  std::lock_guard lock(mu_);
  CS_RETURN_IF_ERROR(begin_write());
  Conversation c{next_id("c"), owner_id, title, now, now, 0};
  conversations_[c.id] = StoredConversation{c, {}};
  return Written<Conversation>{c, lsn_};
}

Result<Conversation> MemoryStore::get_conversation(const std::string& owner_id, const std::string& id,
                                                   const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, id));
  return stored->conversation;
}

Result<PageOf<Conversation>> MemoryStore::list_conversations(const std::string& owner_id, const Page& page,
                                                             const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  CS_ASSIGN_OR_RETURN(std::size_t offset, parse_cursor(page.cursor));
  std::lock_guard lock(mu_);
  begin_read(options);
  std::vector<Conversation> mine;
  for (const auto& [id, stored] : conversations_)
    if (stored.conversation.owner_id == owner_id) mine.push_back(stored.conversation);
  std::sort(mine.begin(), mine.end(), [](const Conversation& a, const Conversation& b) {
    return a.updated_at != b.updated_at ? a.updated_at > b.updated_at : a.id > b.id;
  });
  PageOf<Conversation> out;
  for (std::size_t i = offset; i < mine.size() && out.items.size() < static_cast<std::size_t>(page.limit); ++i)
    out.items.push_back(mine[i]);
  std::size_t end = offset + out.items.size();
  if (end < mine.size()) out.next_cursor = std::to_string(end);
  return out;
}

Result<Written<Conversation>> MemoryStore::rename_conversation(const std::string& owner_id, const std::string& id,
                                                               const std::string& title, double now) {
  std::lock_guard lock(mu_);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, id));
  CS_RETURN_IF_ERROR(begin_write());
  stored->conversation.title = title;
  stored->conversation.updated_at = now;
  return Written<Conversation>{stored->conversation, lsn_};
}

Result<Lsn> MemoryStore::delete_conversation(const std::string& owner_id, const std::string& id) {
  std::lock_guard lock(mu_);
  CS_RETURN_IF_ERROR(owned(owner_id, id).status());
  CS_RETURN_IF_ERROR(begin_write());
  conversations_.erase(id);
  return lsn_;
}

Result<Written<Message>> MemoryStore::append_message(const std::string& owner_id, const Message& message) {
  std::lock_guard lock(mu_);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, message.conversation_id));
  if (!message.idempotency_key.empty()) {
    for (const auto& m : stored->messages)
      if (m.idempotency_key == message.idempotency_key) return Written<Message>{m, lsn_, true};
  }
  CS_RETURN_IF_ERROR(begin_write());
  Message m = message;
  if (m.id.empty()) m.id = next_id("m");
  m.seq = static_cast<std::int64_t>(stored->messages.size()) + 1;
  stored->messages.push_back(m);
  stored->conversation.message_count = m.seq;
  stored->conversation.updated_at = std::max(stored->conversation.updated_at, m.created_at);
  return Written<Message>{m, lsn_};
}

Result<Lsn> MemoryStore::update_message(const std::string& owner_id, const Message& message) {
  std::lock_guard lock(mu_);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, message.conversation_id));
  auto it = std::find_if(stored->messages.begin(), stored->messages.end(),
                         [&](const Message& m) { return m.id == message.id; });
  if (it == stored->messages.end()) return not_found("message " + message.id + " not found");
  CS_RETURN_IF_ERROR(begin_write());
  it->content = message.content;
  it->status = message.status;
  it->finish_reason = message.finish_reason;
  it->usage = message.usage;
  it->moderation_categories = message.moderation_categories;
  ++updates_[message.id];
  return lsn_;
}

Result<Message> MemoryStore::get_message(const std::string& owner_id, const std::string& conversation_id,
                                         const std::string& message_id, const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, conversation_id));
  for (const auto& m : stored->messages)
    if (m.id == message_id) return m;
  return not_found("message " + message_id + " not found");
}

Result<std::vector<Message>> MemoryStore::recent_messages(const std::string& owner_id,
                                                          const std::string& conversation_id, int limit,
                                                          const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(limit));
  std::lock_guard lock(mu_);
  begin_read(options);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, conversation_id));
  const auto& all = stored->messages;
  std::size_t from = all.size() > static_cast<std::size_t>(limit) ? all.size() - limit : 0;
  return std::vector<Message>(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
}

Result<PageOf<Message>> MemoryStore::list_messages(const std::string& owner_id, const std::string& conversation_id,
                                                   const Page& page, const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  CS_ASSIGN_OR_RETURN(std::size_t offset, parse_cursor(page.cursor));
  std::lock_guard lock(mu_);
  begin_read(options);
  CS_ASSIGN_OR_RETURN(auto* stored, owned(owner_id, conversation_id));
  PageOf<Message> out;
  const auto& all = stored->messages;
  for (std::size_t i = offset; i < all.size() && out.items.size() < static_cast<std::size_t>(page.limit); ++i)
    out.items.push_back(all[i]);
  std::size_t end = offset + out.items.size();
  if (end < all.size()) out.next_cursor = std::to_string(end);
  return out;
}

Result<Lsn> MemoryStore::record_usage(const std::string& user_id, const std::string& /*model*/,
                                      const Usage& usage, double /*now*/) {
  std::lock_guard lock(mu_);
  CS_RETURN_IF_ERROR(begin_write());
  auto& u = usage_[user_id];
  u.prompt_tokens += usage.prompt_tokens;
  u.completion_tokens += usage.completion_tokens;
  return lsn_;
}

void MemoryStore::fail_writes_after(std::int64_t n) {
  std::lock_guard lock(mu_);
  writes_left_ = n;
}

std::int64_t MemoryStore::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

std::int64_t MemoryStore::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

std::int64_t MemoryStore::updates_of(const std::string& message_id) const {
  std::lock_guard lock(mu_);
  auto it = updates_.find(message_id);
  return it == updates_.end() ? 0 : it->second;
}

Usage MemoryStore::usage_of(const std::string& user_id) const {
  std::lock_guard lock(mu_);
  auto it = usage_.find(user_id);
  return it == usage_.end() ? Usage{} : it->second;
}

std::vector<Message> MemoryStore::all_messages(const std::string& conversation_id) const {
  std::lock_guard lock(mu_);
  auto it = conversations_.find(conversation_id);
  return it == conversations_.end() ? std::vector<Message>{} : it->second.messages;
}

Lsn MemoryStore::last_lsn() const {
  std::lock_guard lock(mu_);
  return lsn_;
}

Lsn MemoryStore::last_read_min_lsn() const {
  std::lock_guard lock(mu_);
  return last_read_min_lsn_;
}

Result<Written<ApiKey>> MemoryStore::create_api_key(const ApiKey& key) {
  std::lock_guard lock(mu_);
  if (api_keys_.count(key.key_hash)) return already_exists("API key hash already stored");
  CS_RETURN_IF_ERROR(begin_write());
  ApiKey stored = key;
  if (stored.id.empty()) stored.id = next_id("k");
  api_keys_[stored.key_hash] = stored;
  return Written<ApiKey>{stored, lsn_};
}

Result<ApiKey> MemoryStore::find_api_key(const std::string& key_hash, const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  auto it = api_keys_.find(key_hash);
  if (it == api_keys_.end()) return not_found("API key not found");
  return it->second;
}

Result<std::vector<ApiKey>> MemoryStore::list_api_keys(const std::string& user_id, const ReadOptions& options) {
  std::lock_guard lock(mu_);
  begin_read(options);
  std::vector<ApiKey> keys;
  for (const auto& [hash, key] : api_keys_)
    if (key.user_id == user_id) keys.push_back(key);
  std::sort(keys.begin(), keys.end(), [](const ApiKey& a, const ApiKey& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
  });
  return keys;
}

Result<Lsn> MemoryStore::revoke_api_key(const std::string& user_id, const std::string& key_id, double now) {
  std::lock_guard lock(mu_);
  for (auto& [hash, key] : api_keys_) {
    if (key.id != key_id || key.user_id != user_id) continue;
    if (key.revoked_at != 0) return lsn_;
    CS_RETURN_IF_ERROR(begin_write());
    key.revoked_at = now;
    return lsn_;
  }
  return not_found("API key " + key_id + " not found");
}

// ---- stop requests -----------------------------------------------------------------------------------

Result<Lsn> MemoryStore::request_stop(const std::string& owner_id, const std::string& conversation_id,
                                      const std::string& message_id, double now) {
  std::lock_guard lock(mu_);
  CS_ASSIGN_OR_RETURN(StoredConversation * c, owned(owner_id, conversation_id));
  bool found = false;
  for (const auto& m : c->messages) found = found || m.id == message_id;
  if (!found) return not_found("message " + message_id + " not found");
  CS_RETURN_IF_ERROR(begin_write());
  stop_requested_.emplace(message_id, now);
  return lsn_;
}

Result<std::vector<std::string>> MemoryStore::stop_requests(const std::vector<std::string>& message_ids) {
  std::lock_guard lock(mu_);
  begin_read(ReadOptions{0, 0, true});
  std::vector<std::string> out;
  for (const auto& id : message_ids)
    if (stop_requested_.count(id)) out.push_back(id);
  return out;
}

// ---- refresh tokens ----------------------------------------------------------------------------------

Result<Lsn> MemoryStore::create_refresh_token(const RefreshToken& token) {
  std::lock_guard lock(mu_);
  if (refresh_tokens_.count(token.token_hash)) return already_exists("refresh token hash already stored");
  CS_RETURN_IF_ERROR(begin_write());
  refresh_tokens_[token.token_hash] = token;
  family_revoked_at_.emplace(token.family_id, 0.0);
  return lsn_;
}

Result<Rotation> MemoryStore::rotate_refresh_token(const std::string& token_hash, const RefreshToken& successor,
                                                   double now) {
  std::lock_guard lock(mu_);
  auto it = refresh_tokens_.find(token_hash);
  if (it == refresh_tokens_.end()) return not_found("refresh token not found");
  Rotation rotation{RotationOutcome::kRotated, it->second, 0};
  double& revoked_at = family_revoked_at_[it->second.family_id];
  if (revoked_at > 0) {
    rotation.outcome = RotationOutcome::kRevoked;
  } else if (it->second.rotated_at > 0) {
    CS_RETURN_IF_ERROR(begin_write());
    revoked_at = now;
    rotation.outcome = RotationOutcome::kReused;
    rotation.lsn = lsn_;
  } else if (it->second.expires_at <= now) {
    rotation.outcome = RotationOutcome::kExpired;
  } else {
    if (refresh_tokens_.count(successor.token_hash)) return already_exists("refresh token hash already stored");
    CS_RETURN_IF_ERROR(begin_write());
    it->second.rotated_at = now;
    RefreshToken next = successor;
    next.family_id = it->second.family_id;
    next.user_id = it->second.user_id;
    next.rotated_at = 0;
    refresh_tokens_[next.token_hash] = next;
    rotation.lsn = lsn_;
  }
  return rotation;
}

Result<Written<std::string>> MemoryStore::revoke_refresh_family(const std::string& token_hash, double now) {
  std::lock_guard lock(mu_);
  auto it = refresh_tokens_.find(token_hash);
  if (it == refresh_tokens_.end()) return not_found("refresh token not found");
  CS_RETURN_IF_ERROR(begin_write());
  double& revoked_at = family_revoked_at_[it->second.family_id];
  if (revoked_at == 0) revoked_at = now;
  return Written<std::string>{it->second.user_id, lsn_};
}

Result<Written<std::int64_t>> MemoryStore::revoke_user_refresh_families(const std::string& user_id, double now) {
  std::lock_guard lock(mu_);
  CS_RETURN_IF_ERROR(begin_write());
  std::int64_t live = 0;
  for (const auto& [hash, token] : refresh_tokens_) {
    if (token.user_id != user_id) continue;
    double& revoked_at = family_revoked_at_[token.family_id];
    if (revoked_at == 0) {
      revoked_at = now;
      ++live;
    }
  }
  return Written<std::int64_t>{live, lsn_};
}

}  // namespace chatscale::testing
