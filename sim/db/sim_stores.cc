#include "sim/db/sim_stores.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace chatscale::sim {
namespace {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

// "c<n>" -> n.
std::optional<std::uint64_t> parse_conversation_id(std::string_view id) {
  if (id.size() < 2 || id[0] != 'c') return std::nullopt;
  return parse_number(id.substr(1));
}

// "c<n>-<seq>" of conversation `conversation_id` -> seq.
std::optional<std::int64_t> parse_message_seq(std::string_view message_id, std::string_view conversation_id) {
  if (message_id.size() <= conversation_id.size() + 1 || !message_id.starts_with(conversation_id) ||
      message_id[conversation_id.size()] != '-') {
    return std::nullopt;
  }
  auto seq = parse_number(message_id.substr(conversation_id.size() + 1));
  if (!seq || *seq == 0 || *seq > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(*seq);
}

std::uint32_t clamp_u32(std::int64_t v) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, UINT32_MAX));
}

Result<std::int64_t> parse_cursor(const std::string& cursor) {
  if (cursor.empty()) return std::int64_t{0};
  auto n = parse_number(cursor);
  if (!n || *n > static_cast<std::uint64_t>(INT64_MAX)) return invalid_argument("malformed cursor");
  return static_cast<std::int64_t>(*n);
}

Status check_limit(int limit) {
  if (limit < 1 || limit > 1000) return invalid_argument("page limit must be between 1 and 1000");
  return Status::ok();
}

}  // namespace

StoreCosts store_costs(const DatabaseSpec& spec) {
  const DatabaseReads& r = spec.reads_per_prompt;
  const DatabaseWrites& w = spec.writes_per_prompt;
  StoreCosts c;
  c.get_conversation = r.account + r.quota + r.conversation_metadata + r.feature_flags + r.rate_limit_state;
  c.recent_messages = r.recent_messages;
  c.other_read = 1;
  c.message_row = w.messages / 2;
  c.user_append = c.message_row + w.conversation_metadata + w.logs;
  c.answer_append = c.message_row;
  c.update = c.message_row;
  c.usage = w.usage_counters;
  c.metadata = w.conversation_metadata;
  return c;
}

std::vector<StoreCallCost> store_call_costs(const DatabaseSpec& spec) {
  const StoreCosts c = store_costs(spec);
  return {
      {"get_conversation", "read", c.get_conversation,
       "account + quota + conversation_metadata + feature_flags + rate_limit_state"},
      {"recent_messages", "read", c.recent_messages, "recent_messages"},
      {"append_message (user)", "write", c.user_append, "messages/2 + conversation_metadata + logs"},
      {"append_message (answer)", "write", c.answer_append, "messages/2 (the answer's first checkpoint)"},
      {"update_message", "write", c.update, "messages/2 (each later checkpoint and the final write)"},
      {"record_usage", "write", c.usage, "usage_counters"},
      {"create/rename_conversation", "write", c.metadata, "conversation_metadata"},
      {"delete_conversation", "write", c.metadata, "conversation_metadata + messages/2 per message"},
      {"get_message, list_*", "read", c.other_read, "one statement"},
  };
}

SimStores::SimStores(DatabaseModel& db, Clock& clock, int default_region)
    : db_(db),
      clock_(clock),
      default_region_(default_region >= 0 && default_region < db.region_count() ? default_region
                                                                                : db.primary_region()),
      costs_(store_costs(db.spec())) {}

// ---- runner hooks ----

std::string SimStores::register_conversation(const std::string& owner_id, int region, double now) {
  std::uint64_t n = next_conversation_++;
  Conv& c = conversations_[n];
  c.owner = owner_id;
  c.region = region;
  c.created_at = c.updated_at = now;
  Owner& o = owners_[owner_id];
  o.region = region;
  ++o.conversations;
  return "c" + std::to_string(n);
}

void SimStores::release_owner(const std::string& owner_id) {
  auto it = owners_.find(owner_id);
  if (it != owners_.end() && --it->second.conversations <= 0) owners_.erase(it);
}

std::string SimStores::open_conversation(const std::string& owner_id, int region, double now,
                                         std::int64_t existing_messages) {
  if (region < 0 || region >= db_.region_count()) region = default_region_;
  std::string id = register_conversation(owner_id, region, now);
  Conv& c = conversations_[next_conversation_ - 1];
  c.message_count = std::max<std::int64_t>(existing_messages, 0);
  return id;
}

Status SimStores::set_region(const std::string& conversation_id, int region) {
  if (region < 0 || region >= db_.region_count()) return invalid_argument("unknown region index");
  auto n = parse_conversation_id(conversation_id);
  auto it = n ? conversations_.find(*n) : conversations_.end();
  if (it == conversations_.end()) return not_found("conversation " + conversation_id + " not found");
  it->second.region = region;
  owners_[it->second.owner].region = region;
  return Status::ok();
}

void SimStores::forget_conversation(const std::string& conversation_id) {
  auto n = parse_conversation_id(conversation_id);
  if (!n) return;
  auto it = conversations_.find(*n);
  if (it == conversations_.end()) return;
  release_owner(it->second.owner);
  conversations_.erase(it);
}

// ---- helpers ----

Result<SimStores::Conv*> SimStores::owned(const std::string& owner_id, std::string_view id) {
  auto n = parse_conversation_id(id);
  auto it = n ? conversations_.find(*n) : conversations_.end();
  if (it == conversations_.end() || it->second.owner != owner_id) {
    return not_found("conversation " + std::string(id) + " not found");
  }
  return &it->second;
}

int SimStores::region_of_user(const std::string& user_id) const {
  auto it = owners_.find(user_id);
  return it == owners_.end() ? default_region_ : it->second.region;
}

Result<double> SimStores::start_read(int region, const ReadOptions& options, double statements) {
  if (statements <= 0) return 0.0;
  ReadToken token{options.min_lsn, options.token_issued_at};
  auto r = db_.read(region, token, clock_.now(), statements, options.from_primary);
  if (!r.is_ok()) {
    clock_.sleep_for(db_.round_trip_s(region, db_.primary_region()));
    return r.status();
  }
  CS_RETURN_IF_ERROR(check_timeout(r->latency_s));
  return r->latency_s;
}

// A query that would wait past the statement timeout is cancelled there: the caller sees the error
// after the timeout, as a PostgreSQL client with statement_timeout (or a pool's acquire timeout) does.
Status SimStores::check_timeout(double latency_s) {
  double timeout = db_.spec().statement_timeout_s;
  if (latency_s <= timeout) return Status::ok();
  clock_.sleep_for(timeout);
  return deadline_exceeded("database statement timeout after " + std::to_string(timeout) + " s");
}

Result<WriteResult> SimStores::start_write(int region, double rows) {
  if (rows <= 0) return WriteResult{0, db_.primary_lsn()};
  auto w = db_.write(region, rows, clock_.now());
  if (!w.is_ok()) clock_.sleep_for(db_.round_trip_s(region, db_.primary_region()));
  if (w.is_ok()) CS_RETURN_IF_ERROR(check_timeout(w->latency_s));
  return w;
}

SimStores::Recent SimStores::summary(const Message& m) {
  Recent r;
  r.seq = m.seq;
  r.created_at = m.created_at;
  r.bytes = clamp_u32(static_cast<std::int64_t>(m.content.size()));
  r.prompt_tokens = clamp_u32(m.usage.prompt_tokens);
  r.completion_tokens = clamp_u32(m.usage.completion_tokens);
  r.role = m.role;
  r.status = m.status;
  r.finish = m.finish_reason;
  return r;
}

Message SimStores::synthetic(std::string_view conversation_id, const Conv& conv, const Recent& r) const {
  Message m;
  m.id = std::string(conversation_id) + "-" + std::to_string(r.seq);
  m.conversation_id = std::string(conversation_id);
  m.role = r.role;
  m.content.assign(r.bytes, 'x');
  m.status = r.status;
  m.finish_reason = r.finish;
  m.usage = Usage{r.prompt_tokens, r.completion_tokens};
  if (r.seq == conv.last_user_seq) m.idempotency_key = conv.last_user_key;
  m.created_at = r.created_at;
  m.seq = r.seq;
  return m;
}

// ---- ConversationStore ----

Result<Written<Conversation>> SimStores::create_conversation_in(int region, const std::string& owner_id,
                                                                const std::string& title, double now) {
  if (region < 0 || region >= db_.region_count()) return invalid_argument("unknown region index");
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(region, costs_.metadata));
  std::string id = register_conversation(owner_id, region, now);
  Conversation c{id, owner_id, title, now, now, 0};
  clock_.sleep_for(w.latency_s);
  return Written<Conversation>{std::move(c), w.lsn, false};
}

Result<Written<Conversation>> SimStores::create_conversation(const std::string& owner_id,
                                                             const std::string& title, double now) {
  return create_conversation_in(default_region_, owner_id, title, now);
}

Result<Conversation> SimStores::get_conversation(const std::string& owner_id, const std::string& id,
                                                 const ReadOptions& options) {
  auto conv = owned(owner_id, id);
  if (!conv.is_ok()) {
    CS_RETURN_IF_ERROR(start_read(region_of_user(owner_id), options, costs_.get_conversation).status());
    return conv.status();
  }
  const Conv& c = **conv;
  Conversation out{id, c.owner, "", c.created_at, c.updated_at, c.message_count};
  CS_ASSIGN_OR_RETURN(double latency, start_read(c.region, options, costs_.get_conversation));
  clock_.sleep_for(latency);
  return out;
}

Result<PageOf<Conversation>> SimStores::list_conversations(const std::string& owner_id, const Page& page,
                                                           const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  CS_ASSIGN_OR_RETURN(std::int64_t offset, parse_cursor(page.cursor));
  std::vector<Conversation> mine;
  for (const auto& [n, c] : conversations_) {
    if (c.owner == owner_id) {
      mine.push_back({"c" + std::to_string(n), c.owner, "", c.created_at, c.updated_at, c.message_count});
    }
  }
  std::sort(mine.begin(), mine.end(), [](const Conversation& a, const Conversation& b) {
    return a.updated_at != b.updated_at ? a.updated_at > b.updated_at : a.id > b.id;
  });
  PageOf<Conversation> out;
  auto begin = std::min<std::size_t>(static_cast<std::size_t>(offset), mine.size());
  auto end = std::min<std::size_t>(begin + static_cast<std::size_t>(page.limit), mine.size());
  out.items.assign(mine.begin() + static_cast<std::ptrdiff_t>(begin), mine.begin() + static_cast<std::ptrdiff_t>(end));
  if (end < mine.size()) out.next_cursor = std::to_string(end);
  CS_ASSIGN_OR_RETURN(double latency, start_read(region_of_user(owner_id), options, costs_.other_read));
  clock_.sleep_for(latency);
  return out;
}

Result<Written<Conversation>> SimStores::rename_conversation(const std::string& owner_id, const std::string& id,
                                                             const std::string& title, double now) {
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, id));
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(c->region, costs_.metadata));
  c->updated_at = now;
  Conversation out{id, c->owner, title, c->created_at, c->updated_at, c->message_count};
  clock_.sleep_for(w.latency_s);
  return Written<Conversation>{std::move(out), w.lsn, false};
}

Result<Lsn> SimStores::delete_conversation(const std::string& owner_id, const std::string& id) {
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, id));
  double rows = costs_.metadata + costs_.message_row * static_cast<double>(c->message_count);
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(c->region, rows));
  forget_conversation(id);
  clock_.sleep_for(w.latency_s);
  return w.lsn;
}

// ---- MessageStore ----

Result<Written<Message>> SimStores::append_message(const std::string& owner_id, const Message& message) {
  auto conv = owned(owner_id, message.conversation_id);
  if (!conv.is_ok()) return conv.status();
  Conv& c = **conv;
  const std::string& cid = message.conversation_id;
  bool user = message.role == Role::kUser;
  if (user && !message.idempotency_key.empty() && message.idempotency_key == c.last_user_key) {
    const Recent& r = c.ring[static_cast<std::size_t>(c.last_user_seq % kRecentMessages)];
    Message twin = r.seq == c.last_user_seq ? synthetic(cid, c, r) : message;
    twin.seq = c.last_user_seq;
    twin.id = cid + "-" + std::to_string(c.last_user_seq);
    CS_ASSIGN_OR_RETURN(double latency, start_read(c.region, ReadOptions{0, 0, true}, costs_.other_read));
    clock_.sleep_for(latency);
    return Written<Message>{std::move(twin), db_.primary_lsn(), true};
  }
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(c.region, user ? costs_.user_append : costs_.answer_append));
  Message m = message;
  m.seq = ++c.message_count;
  m.id = cid + "-" + std::to_string(m.seq);
  double now = clock_.now();
  if (m.created_at == 0) m.created_at = now;
  c.updated_at = now;
  c.ring[static_cast<std::size_t>(m.seq % kRecentMessages)] = summary(m);
  if (user && !m.idempotency_key.empty()) {
    c.last_user_key = m.idempotency_key;
    c.last_user_seq = m.seq;
  }
  clock_.sleep_for(w.latency_s);
  return Written<Message>{std::move(m), w.lsn, false};
}

Result<Lsn> SimStores::update_message(const std::string& owner_id, const Message& message) {
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, message.conversation_id));
  auto seq = parse_message_seq(message.id, message.conversation_id);
  if (!seq || *seq > c->message_count) return not_found("message " + message.id + " not found");
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(c->region, costs_.update));
  Recent& r = c->ring[static_cast<std::size_t>(*seq % kRecentMessages)];
  if (r.seq == *seq) {
    Recent updated = summary(message);
    updated.seq = r.seq;
    updated.role = r.role;
    updated.created_at = r.created_at;
    r = updated;
  }
  c->updated_at = clock_.now();
  clock_.sleep_for(w.latency_s);
  return w.lsn;
}

Result<Message> SimStores::get_message(const std::string& owner_id, const std::string& conversation_id,
                                       const std::string& message_id, const ReadOptions& options) {
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, conversation_id));
  auto seq = parse_message_seq(message_id, conversation_id);
  const Recent* r = seq ? &c->ring[static_cast<std::size_t>(*seq % kRecentMessages)] : nullptr;
  Result<Message> out = r != nullptr && r->seq == *seq
                            ? Result<Message>(synthetic(conversation_id, *c, *r))
                            : Result<Message>(not_found("message " + message_id + " not found or not retained"));
  CS_ASSIGN_OR_RETURN(double latency, start_read(c->region, options, costs_.other_read));
  clock_.sleep_for(latency);
  return out;
}

Result<std::vector<Message>> SimStores::recent_messages(const std::string& owner_id,
                                                        const std::string& conversation_id, int limit,
                                                        const ReadOptions& options) {
  if (limit < 1) return invalid_argument("limit must be positive");
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, conversation_id));
  std::int64_t count = std::min<std::int64_t>({limit, kRecentMessages, c->message_count});
  std::vector<Message> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t seq = c->message_count - count + 1; seq <= c->message_count; ++seq) {
    const Recent& r = c->ring[static_cast<std::size_t>(seq % kRecentMessages)];
    if (r.seq == seq) out.push_back(synthetic(conversation_id, *c, r));
  }
  CS_ASSIGN_OR_RETURN(double latency, start_read(c->region, options, costs_.recent_messages));
  clock_.sleep_for(latency);
  return out;
}

Result<PageOf<Message>> SimStores::list_messages(const std::string& owner_id, const std::string& conversation_id,
                                                 const Page& page, const ReadOptions& options) {
  CS_RETURN_IF_ERROR(check_limit(page.limit));
  CS_ASSIGN_OR_RETURN(std::int64_t after, parse_cursor(page.cursor));
  CS_ASSIGN_OR_RETURN(Conv * c, owned(owner_id, conversation_id));
  PageOf<Message> out;
  std::int64_t first = std::max<std::int64_t>(after + 1, c->message_count - kRecentMessages + 1);
  for (std::int64_t seq = std::max<std::int64_t>(first, 1); seq <= c->message_count; ++seq) {
    const Recent& r = c->ring[static_cast<std::size_t>(seq % kRecentMessages)];
    if (r.seq != seq) continue;
    if (static_cast<int>(out.items.size()) == page.limit) {
      out.next_cursor = std::to_string(out.items.back().seq);
      break;
    }
    out.items.push_back(synthetic(conversation_id, *c, r));
  }
  CS_ASSIGN_OR_RETURN(double latency, start_read(c->region, options, costs_.other_read));
  clock_.sleep_for(latency);
  return out;
}

// ---- UsageStore ----

Result<Lsn> SimStores::record_usage(const std::string& user_id, const std::string& /*model*/,
                                    const Usage& /*usage*/, double /*now*/) {
  CS_ASSIGN_OR_RETURN(WriteResult w, start_write(region_of_user(user_id), costs_.usage));
  clock_.sleep_for(w.latency_s);
  return w.lsn;
}

}  // namespace chatscale::sim
