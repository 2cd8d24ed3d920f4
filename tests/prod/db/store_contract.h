// The storage ports' contract (shared/ports/stores.h), as one typed test suite that every adapter must
// pass: the in-memory stores (shared/testing) and PgStores over PostgreSQL (prod/db). A Backend type
// provides: set_up() (a fresh, isolated store), store() (an object implementing UserStore,
// ConversationStore, MessageStore, UsageStore and ApiKeyStore) and usage_of(user_id).
// Instantiated in memory_store_contract_test.cc and pg_store_contract_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ports/stores.h"

namespace chatscale::contract {

// A name no other test (or earlier run against the same database) uses.
inline std::string unique(const std::string& base) {
  static std::mt19937_64 rng(std::random_device{}());
  static std::mutex mu;
  std::lock_guard lock(mu);
  return base + "-" + std::to_string(rng());
}

template <typename Backend>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override { backend_.set_up(); }
  auto& store() { return backend_.store(); }
  Usage usage_of(const std::string& user_id) { return backend_.usage_of(user_id); }

  Conversation conversation(const std::string& owner, const std::string& title = "t", double now = 100) {
    auto c = store().create_conversation(owner, title, now);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? c->value : Conversation{};
  }
  Message message(const std::string& conversation_id, const std::string& content, double created_at = 200,
                  const std::string& key = "") {
    Message m;
    m.conversation_id = conversation_id;
    m.role = Role::kUser;
    m.content = content;
    m.created_at = created_at;
    m.idempotency_key = key;
    return m;
  }
  Message append(const std::string& owner, const Message& m) {
    auto w = store().append_message(owner, m);
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    return w.is_ok() ? w->value : Message{};
  }

  // A read-your-writes token for a write at `lsn`, issued now (Unix time: the prod clock's time line).
  static ReadOptions after(Lsn lsn) {
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return ReadOptions{lsn, now, false};
  }

  // The contract's checks, grouped into tests below (each test of a real database starts its servers).
  void UsersAreCreatedAndFoundByIdAndCaseInsensitiveEmail();
  void AGivenUserIdIsKept();
  void ConversationsBelongToTheirOwner();
  void RenameSetsTitleAndUpdatedAt();
  void DeleteRemovesTheConversationAndItsMessages();
  void ListingIsMostRecentlyUpdatedFirstWithCursors();
  void BadPagesAreInvalidArgument();
  void AppendAssignsSeqAndBumpsTheConversation();
  void EveryMessageFieldRoundTrips();
  void IdempotencyKeysAreUniquePerConversation();
  void UpdateReplacesTheMutableFieldsOnly();
  void RecentMessagesAreTheNewestOldestFirst();
  void ListMessagesPagesOldestFirst();
  void UsageAccumulatesPerUser();
  void ApiKeysAreFoundByHashListedAndRevoked();
  void HostileStringsAreStoredVerbatim();

  Backend backend_;
  const ReadOptions any_{};
  const ReadOptions primary_{0, 0, true};
};

template <typename Backend>
void StoreContractTest<Backend>::UsersAreCreatedAndFoundByIdAndCaseInsensitiveEmail() {
  const std::string email = contract::unique("Alice") + "@Example.COM";
  User u;
  u.email = email;
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  u.tier = "plus";
  u.created_at = 1718000000.125;
  auto created = this->store().create_user(u);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_FALSE(created->value.id.empty());
  EXPECT_GT(created->lsn, 0u);
  const ReadOptions after = this->after(created->lsn);
  for (const std::string& probe : {email, [&] {
         std::string s = email;
         std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
         return s;
       }()}) {
    auto found = this->store().find_user_by_email(probe, after);
    ASSERT_TRUE(found.is_ok()) << found.status().to_string();
    EXPECT_EQ(found->id, created->value.id);
    EXPECT_EQ(found->email, email);
    EXPECT_EQ(found->password_hash, u.password_hash);
    EXPECT_EQ(found->tier, "plus");
    EXPECT_EQ(found->created_at, 1718000000.125);
  }
  auto by_id = this->store().find_user(created->value.id, after);
  ASSERT_TRUE(by_id.is_ok());
  EXPECT_EQ(by_id->email, email);
  // The same address in another case is taken.
  User twin = u;
  std::transform(twin.email.begin(), twin.email.end(), twin.email.begin(), [](unsigned char c) { return std::toupper(c); });
  EXPECT_EQ(this->store().create_user(twin).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(this->store().find_user_by_email("nobody-" + email, this->any_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().find_user(contract::unique("no-such-user"), this->any_).status().code(), StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::AGivenUserIdIsKept() {
  User u;
  u.id = contract::unique("user-id");
  u.email = contract::unique("bob") + "@example.com";
  u.password_hash = "h";
  auto created = this->store().create_user(u);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(created->value.id, u.id);
  EXPECT_EQ(created->value.tier, "free");
  auto found = this->store().find_user(u.id, this->primary_);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->email, u.email);
}

template <typename Backend>
void StoreContractTest<Backend>::ConversationsBelongToTheirOwner() {
  const std::string owner = contract::unique("owner");
  const std::string other = contract::unique("other");
  auto created = this->store().create_conversation(owner, "Trip to Lisbon", 100.5);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  const Conversation c = created->value;
  EXPECT_FALSE(c.id.empty());
  EXPECT_EQ(c.owner_id, owner);
  EXPECT_EQ(c.title, "Trip to Lisbon");
  EXPECT_EQ(c.created_at, 100.5);
  EXPECT_EQ(c.updated_at, 100.5);
  EXPECT_EQ(c.message_count, 0);
  auto got = this->store().get_conversation(owner, c.id, this->after(created->lsn));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->title, "Trip to Lisbon");
  EXPECT_EQ(got->created_at, 100.5);
  EXPECT_EQ(this->store().get_conversation(other, c.id, this->primary_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().get_conversation(owner, "no-such-id", this->primary_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().rename_conversation(other, c.id, "mine now", 200).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().delete_conversation(other, c.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().append_message(other, this->message(c.id, "hi")).status().code(), StatusCode::kNotFound);
  auto listed = this->store().list_conversations(other, Page{}, this->primary_);
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->items.empty());
  EXPECT_TRUE(listed->next_cursor.empty());
  auto still = this->store().get_conversation(owner, c.id, this->primary_);
  ASSERT_TRUE(still.is_ok());
  EXPECT_EQ(still->title, "Trip to Lisbon");
}

template <typename Backend>
void StoreContractTest<Backend>::RenameSetsTitleAndUpdatedAt() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner, "old", 100);
  auto renamed = this->store().rename_conversation(owner, c.id, "new title", 150.25);
  ASSERT_TRUE(renamed.is_ok()) << renamed.status().to_string();
  EXPECT_EQ(renamed->value.title, "new title");
  EXPECT_EQ(renamed->value.updated_at, 150.25);
  EXPECT_EQ(renamed->value.created_at, 100);
  auto got = this->store().get_conversation(owner, c.id, this->after(renamed->lsn));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->title, "new title");
  EXPECT_EQ(got->updated_at, 150.25);
  EXPECT_EQ(this->store().rename_conversation(owner, "no-such-id", "x", 1).status().code(), StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::DeleteRemovesTheConversationAndItsMessages() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  Message m = this->append(owner, this->message(c.id, "hello"));
  auto deleted = this->store().delete_conversation(owner, c.id);
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  const ReadOptions after = this->after(*deleted);
  EXPECT_EQ(this->store().get_conversation(owner, c.id, after).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().get_message(owner, c.id, m.id, after).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().recent_messages(owner, c.id, 10, after).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().list_messages(owner, c.id, Page{}, after).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().delete_conversation(owner, c.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store().append_message(owner, this->message(c.id, "late")).status().code(), StatusCode::kNotFound);
  auto listed = this->store().list_conversations(owner, Page{}, after);
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->items.empty());
}

template <typename Backend>
void StoreContractTest<Backend>::ListingIsMostRecentlyUpdatedFirstWithCursors() {
  const std::string owner = contract::unique("owner");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(this->conversation(owner, "c" + std::to_string(i), 100 + i).id);
  // Activity moves the oldest to the front: appending bumps updated_at, renaming sets it.
  this->append(owner, this->message(ids[0], "bump", 500));
  auto renamed = this->store().rename_conversation(owner, ids[1], "renamed", 400);
  ASSERT_TRUE(renamed.is_ok());
  const std::vector<std::string> expected = {ids[0], ids[1], ids[4], ids[3], ids[2]};
  std::vector<std::string> seen;
  Page page{"", 2};
  int pages = 0;
  while (true) {
    auto p = this->store().list_conversations(owner, page, this->after(renamed->lsn));
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ++pages;
    ASSERT_LE(p->items.size(), 2u);
    for (const auto& c : p->items) {
      seen.push_back(c.id);
      EXPECT_EQ(c.owner_id, owner);
    }
    if (p->next_cursor.empty()) break;
    ASSERT_LT(pages, 10);
    page.cursor = p->next_cursor;
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);
  auto first = this->store().list_conversations(owner, Page{"", 5}, this->primary_);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->items.size(), 5u);
  EXPECT_TRUE(first->next_cursor.empty());
  EXPECT_EQ(first->items[0].message_count, 1);
  EXPECT_EQ(first->items[0].updated_at, 500);
  EXPECT_EQ(first->items[1].title, "renamed");
}

template <typename Backend>
void StoreContractTest<Backend>::BadPagesAreInvalidArgument() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  for (int limit : {0, -1, 1001}) {
    EXPECT_EQ(this->store().list_conversations(owner, Page{"", limit}, this->any_).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().list_messages(owner, c.id, Page{"", limit}, this->any_).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().recent_messages(owner, c.id, limit, this->any_).status().code(),
              StatusCode::kInvalidArgument);
  }
  for (const std::string cursor : {"not a cursor", "%%%", "-1", "'; DROP TABLE conversations; --"}) {
    EXPECT_EQ(this->store().list_conversations(owner, Page{cursor, 10}, this->any_).status().code(),
              StatusCode::kInvalidArgument)
        << cursor;
    EXPECT_EQ(this->store().list_messages(owner, c.id, Page{cursor, 10}, this->any_).status().code(),
              StatusCode::kInvalidArgument)
        << cursor;
  }
  EXPECT_TRUE(this->store().list_conversations(owner, Page{"", 1000}, this->any_).is_ok());
  EXPECT_TRUE(this->store().recent_messages(owner, c.id, 1, this->any_).is_ok());
}

template <typename Backend>
void StoreContractTest<Backend>::AppendAssignsSeqAndBumpsTheConversation() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner, "t", 100);
  Message first = this->message(c.id, "first", 150);
  auto w1 = this->store().append_message(owner, first);
  ASSERT_TRUE(w1.is_ok()) << w1.status().to_string();
  EXPECT_FALSE(w1->existing);
  EXPECT_FALSE(w1->value.id.empty());
  EXPECT_EQ(w1->value.seq, 1);
  Message second = this->message(c.id, "second", 120);  // an older timestamp does not move updated_at back
  second.role = Role::kAssistant;
  second.status = MessageStatus::kStreaming;
  auto w2 = this->store().append_message(owner, second);
  ASSERT_TRUE(w2.is_ok());
  EXPECT_EQ(w2->value.seq, 2);
  EXPECT_NE(w2->value.id, w1->value.id);
  EXPECT_GT(w2->lsn, w1->lsn);
  auto got = this->store().get_conversation(owner, c.id, this->after(w2->lsn));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->message_count, 2);
  EXPECT_EQ(got->updated_at, 150);
  EXPECT_EQ(this->store().append_message(owner, this->message("no-such-conversation", "x")).status().code(),
            StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::EveryMessageFieldRoundTrips() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  Message m = this->message(c.id, "What is 2+2?", 1718000000.987654, contract::unique("key"));
  m.id = contract::unique("msg");
  m.role = Role::kAssistant;
  m.status = MessageStatus::kPartial;
  m.finish_reason = FinishReason::kContentFilter;
  m.usage = Usage{12, 34};
  m.model = "llama-3-8b";
  m.moderation_categories = {"violence", "self_harm"};
  auto w = this->store().append_message(owner, m);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  EXPECT_EQ(w->value.id, m.id);
  auto got = this->store().get_message(owner, c.id, m.id, this->after(w->lsn));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, m.id);
  EXPECT_EQ(got->conversation_id, c.id);
  EXPECT_EQ(got->role, Role::kAssistant);
  EXPECT_EQ(got->content, "What is 2+2?");
  EXPECT_EQ(got->status, MessageStatus::kPartial);
  EXPECT_EQ(got->finish_reason, FinishReason::kContentFilter);
  EXPECT_EQ(got->usage.prompt_tokens, 12);
  EXPECT_EQ(got->usage.completion_tokens, 34);
  EXPECT_EQ(got->idempotency_key, m.idempotency_key);
  EXPECT_EQ(got->model, "llama-3-8b");
  EXPECT_EQ(got->moderation_categories, (std::vector<std::string>{"violence", "self_harm"}));
  EXPECT_EQ(got->created_at, 1718000000.987654);
  EXPECT_EQ(got->seq, 1);
  EXPECT_EQ(this->store().get_message(owner, c.id, "no-such-message", this->primary_).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(this->store().get_message(contract::unique("other"), c.id, m.id, this->primary_).status().code(),
            StatusCode::kNotFound);
  Conversation elsewhere = this->conversation(owner);
  EXPECT_EQ(this->store().get_message(owner, elsewhere.id, m.id, this->primary_).status().code(),
            StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::IdempotencyKeysAreUniquePerConversation() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  Conversation d = this->conversation(owner);
  auto first = this->store().append_message(owner, this->message(c.id, "once", 200, "key-1"));
  ASSERT_TRUE(first.is_ok());
  auto again = this->store().append_message(owner, this->message(c.id, "twice?", 300, "key-1"));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->value.id, first->value.id);
  EXPECT_EQ(again->value.seq, 1);
  EXPECT_EQ(again->value.content, "once");
  EXPECT_GE(again->lsn, first->lsn);
  // The key is per conversation; messages without a key never collide.
  auto other = this->store().append_message(owner, this->message(d.id, "once", 200, "key-1"));
  ASSERT_TRUE(other.is_ok());
  EXPECT_FALSE(other->existing);
  auto nokey1 = this->store().append_message(owner, this->message(c.id, "a"));
  auto nokey2 = this->store().append_message(owner, this->message(c.id, "a"));
  ASSERT_TRUE(nokey1.is_ok() && nokey2.is_ok());
  EXPECT_FALSE(nokey1->existing || nokey2->existing);
  auto got = this->store().get_conversation(owner, c.id, this->primary_);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->message_count, 3);
  EXPECT_EQ(got->updated_at, 200);  // the duplicate wrote nothing
}

template <typename Backend>
void StoreContractTest<Backend>::UpdateReplacesTheMutableFieldsOnly() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  Message m = this->message(c.id, "", 200, "k");
  m.role = Role::kAssistant;
  m.status = MessageStatus::kStreaming;
  m.model = "m1";
  Message stored = this->append(owner, m);
  Message update = stored;
  update.content = "the full answer";
  update.status = MessageStatus::kComplete;
  update.finish_reason = FinishReason::kStop;
  update.usage = Usage{5, 7};
  update.moderation_categories = {"harassment"};
  update.role = Role::kUser;       // not updatable
  update.created_at = 999;         // not updatable
  update.idempotency_key = "zzz";  // not updatable
  auto lsn = this->store().update_message(owner, update);
  ASSERT_TRUE(lsn.is_ok()) << lsn.status().to_string();
  auto got = this->store().get_message(owner, c.id, stored.id, this->after(*lsn));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->content, "the full answer");
  EXPECT_EQ(got->status, MessageStatus::kComplete);
  EXPECT_EQ(got->finish_reason, FinishReason::kStop);
  EXPECT_EQ(got->usage.total(), 12);
  EXPECT_EQ(got->moderation_categories, std::vector<std::string>{"harassment"});
  EXPECT_EQ(got->role, Role::kAssistant);
  EXPECT_EQ(got->created_at, 200);
  EXPECT_EQ(got->idempotency_key, "k");
  EXPECT_EQ(got->seq, 1);
  EXPECT_EQ(got->model, "m1");
  update.id = "no-such-message";
  EXPECT_EQ(this->store().update_message(owner, update).status().code(), StatusCode::kNotFound);
  update.id = stored.id;
  EXPECT_EQ(this->store().update_message(contract::unique("other"), update).status().code(), StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::RecentMessagesAreTheNewestOldestFirst() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  auto empty = this->store().recent_messages(owner, c.id, 3, this->primary_);
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->empty());
  for (int i = 1; i <= 5; ++i) this->append(owner, this->message(c.id, "m" + std::to_string(i), 200 + i));
  auto recent = this->store().recent_messages(owner, c.id, 3, this->primary_);
  ASSERT_TRUE(recent.is_ok());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].content, "m3");
  EXPECT_EQ((*recent)[2].content, "m5");
  EXPECT_EQ((*recent)[2].seq, 5);
  auto all = this->store().recent_messages(owner, c.id, 100, this->primary_);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 5u);
  EXPECT_EQ(this->store().recent_messages(contract::unique("other"), c.id, 3, this->primary_).status().code(),
            StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::ListMessagesPagesOldestFirst() {
  const std::string owner = contract::unique("owner");
  Conversation c = this->conversation(owner);
  auto empty = this->store().list_messages(owner, c.id, Page{"", 10}, this->primary_);
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->items.empty());
  EXPECT_TRUE(empty->next_cursor.empty());
  for (int i = 1; i <= 7; ++i) this->append(owner, this->message(c.id, "m" + std::to_string(i)));
  std::vector<std::int64_t> seqs;
  Page page{"", 3};
  int pages = 0;
  while (true) {
    auto p = this->store().list_messages(owner, c.id, page, this->primary_);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ++pages;
    for (const auto& m : p->items) {
      seqs.push_back(m.seq);
      EXPECT_EQ(m.content, "m" + std::to_string(m.seq));
    }
    if (p->next_cursor.empty()) break;
    ASSERT_LT(pages, 10);
    page.cursor = p->next_cursor;
  }
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pages, 3);
  auto exact = this->store().list_messages(owner, c.id, Page{"", 7}, this->primary_);
  ASSERT_TRUE(exact.is_ok());
  EXPECT_EQ(exact->items.size(), 7u);
  EXPECT_TRUE(exact->next_cursor.empty());
  EXPECT_EQ(this->store().list_messages(contract::unique("other"), c.id, Page{}, this->primary_).status().code(),
            StatusCode::kNotFound);
}

template <typename Backend>
void StoreContractTest<Backend>::UsageAccumulatesPerUser() {
  const std::string user = contract::unique("user");
  auto a = this->store().record_usage(user, "model-a", Usage{10, 20}, 1718000000);
  auto b = this->store().record_usage(user, "model-a", Usage{1, 2}, 1718000100);
  auto c = this->store().record_usage(user, "model-b", Usage{100, 0}, 1718090000);  // another model, next day
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok()) << a.status().to_string();
  EXPECT_GT(*b, *a);
  EXPECT_GT(*c, *b);
  Usage total = this->usage_of(user);
  EXPECT_EQ(total.prompt_tokens, 111);
  EXPECT_EQ(total.completion_tokens, 22);
  EXPECT_EQ(this->usage_of(contract::unique("idle")).total(), 0);
}

template <typename Backend>
void StoreContractTest<Backend>::ApiKeysAreFoundByHashListedAndRevoked() {
  const std::string user = contract::unique("user");
  ApiKey k1{"", user, "laptop", contract::unique("hash"), "cs-AbCd", 100, 0};
  ApiKey k2{"", user, "ci", contract::unique("hash"), "cs-EfGh", 200, 0};
  auto w1 = this->store().create_api_key(k1);
  auto w2 = this->store().create_api_key(k2);
  ASSERT_TRUE(w1.is_ok() && w2.is_ok()) << w1.status().to_string();
  EXPECT_FALSE(w1->value.id.empty());
  EXPECT_NE(w1->value.id, w2->value.id);
  ApiKey dup = k1;
  dup.user_id = contract::unique("someone-else");
  EXPECT_EQ(this->store().create_api_key(dup).status().code(), StatusCode::kAlreadyExists);
  auto found = this->store().find_api_key(k1.key_hash, this->after(w2->lsn));
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  EXPECT_EQ(found->id, w1->value.id);
  EXPECT_EQ(found->user_id, user);
  EXPECT_EQ(found->name, "laptop");
  EXPECT_EQ(found->prefix, "cs-AbCd");
  EXPECT_EQ(found->created_at, 100);
  EXPECT_EQ(found->revoked_at, 0);
  EXPECT_EQ(this->store().find_api_key("no-such-hash", this->primary_).status().code(), StatusCode::kNotFound);
  // Revoking: another user's key is NotFound; twice keeps the first time; the key is still found.
  EXPECT_EQ(this->store().revoke_api_key(contract::unique("other"), w1->value.id, 300).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(this->store().revoke_api_key(user, "no-such-key", 300).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(this->store().revoke_api_key(user, w1->value.id, 300).is_ok());
  auto again = this->store().revoke_api_key(user, w1->value.id, 400);
  ASSERT_TRUE(again.is_ok());
  auto revoked = this->store().find_api_key(k1.key_hash, this->after(*again));
  ASSERT_TRUE(revoked.is_ok());
  EXPECT_EQ(revoked->revoked_at, 300);
  auto listed = this->store().list_api_keys(user, this->primary_);
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, w2->value.id);  // newest first
  EXPECT_EQ((*listed)[1].revoked_at, 300);
  auto none = this->store().list_api_keys(contract::unique("nobody"), this->primary_);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
}

template <typename Backend>
void StoreContractTest<Backend>::HostileStringsAreStoredVerbatim() {
  const std::vector<std::string> hostile = {
      "'; DROP TABLE messages; --",
      "Robert'); DELETE FROM users WHERE ('1'='1",
      "$1 $2 \\x00 \\' \" `` %s %n {} ${HOME}",
      "\xF0\x9F\x92\xA5 \xE4\xB8\xAD\xE6\x96\x87 \xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 \xE2\x80\xAE",
      std::string(200000, 'x') + "'",
  };
  const std::string owner = "owner'; DROP TABLE conversations; --" + contract::unique("");
  for (const auto& text : hostile) {
    auto c = this->store().create_conversation(owner, text, 100);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    Message m = this->message(c->value.id, text, 200, text.substr(0, 100));
    m.model = text.substr(0, 100);
    auto w = this->store().append_message(owner, m);
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    auto got = this->store().get_message(owner, c->value.id, w->value.id, this->primary_);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(got->content, text);
    EXPECT_EQ(got->idempotency_key, text.substr(0, 100));
    EXPECT_EQ(got->model, text.substr(0, 100));
    auto conv = this->store().get_conversation(owner, c->value.id, this->primary_);
    ASSERT_TRUE(conv.is_ok());
    EXPECT_EQ(conv->title, text);
  }
  User u;
  u.email = "o'brien+\"quoted\"@example.com" + contract::unique("");
  u.password_hash = "'; --";
  ASSERT_TRUE(this->store().create_user(u).is_ok());
  auto found = this->store().find_user_by_email(u.email, this->primary_);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->password_hash, "'; --");
  auto listed = this->store().list_conversations(owner, Page{"", 100}, this->primary_);
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(listed->items.size(), hostile.size());
}

TYPED_TEST_SUITE_P(StoreContractTest);

TYPED_TEST_P(StoreContractTest, Users) {
  {
    SCOPED_TRACE("UsersAreCreatedAndFoundByIdAndCaseInsensitiveEmail");
    this->UsersAreCreatedAndFoundByIdAndCaseInsensitiveEmail();
  }
  {
    SCOPED_TRACE("AGivenUserIdIsKept");
    this->AGivenUserIdIsKept();
  }
}

TYPED_TEST_P(StoreContractTest, ApiKeysAndUsage) {
  {
    SCOPED_TRACE("ApiKeysAreFoundByHashListedAndRevoked");
    this->ApiKeysAreFoundByHashListedAndRevoked();
  }
  {
    SCOPED_TRACE("UsageAccumulatesPerUser");
    this->UsageAccumulatesPerUser();
  }
}

TYPED_TEST_P(StoreContractTest, Conversations) {
  {
    SCOPED_TRACE("ConversationsBelongToTheirOwner");
    this->ConversationsBelongToTheirOwner();
  }
  {
    SCOPED_TRACE("RenameSetsTitleAndUpdatedAt");
    this->RenameSetsTitleAndUpdatedAt();
  }
  {
    SCOPED_TRACE("DeleteRemovesTheConversationAndItsMessages");
    this->DeleteRemovesTheConversationAndItsMessages();
  }
}

TYPED_TEST_P(StoreContractTest, Pagination) {
  {
    SCOPED_TRACE("ListingIsMostRecentlyUpdatedFirstWithCursors");
    this->ListingIsMostRecentlyUpdatedFirstWithCursors();
  }
  {
    SCOPED_TRACE("BadPagesAreInvalidArgument");
    this->BadPagesAreInvalidArgument();
  }
  {
    SCOPED_TRACE("RecentMessagesAreTheNewestOldestFirst");
    this->RecentMessagesAreTheNewestOldestFirst();
  }
  {
    SCOPED_TRACE("ListMessagesPagesOldestFirst");
    this->ListMessagesPagesOldestFirst();
  }
}

TYPED_TEST_P(StoreContractTest, Messages) {
  {
    SCOPED_TRACE("AppendAssignsSeqAndBumpsTheConversation");
    this->AppendAssignsSeqAndBumpsTheConversation();
  }
  {
    SCOPED_TRACE("EveryMessageFieldRoundTrips");
    this->EveryMessageFieldRoundTrips();
  }
  {
    SCOPED_TRACE("IdempotencyKeysAreUniquePerConversation");
    this->IdempotencyKeysAreUniquePerConversation();
  }
  {
    SCOPED_TRACE("UpdateReplacesTheMutableFieldsOnly");
    this->UpdateReplacesTheMutableFieldsOnly();
  }
}

TYPED_TEST_P(StoreContractTest, HostileStrings) {
  {
    SCOPED_TRACE("HostileStringsAreStoredVerbatim");
    this->HostileStringsAreStoredVerbatim();
  }
}

// Refresh-token families: rotation, reuse detection (revokes the family, the newer token too),
// expiry, logout of one family, logout of all of a user's families, and a race of two rotations.
TYPED_TEST_P(StoreContractTest, RefreshTokens) {
  auto& s = this->store();
  const std::string user = unique("rt-user"), other = unique("rt-other");
  auto token = [&](const std::string& family, const std::string& owner, double expires = 1000) {
    return RefreshToken{unique("hash"), family, owner, 100, expires, 0};
  };
  const std::string f1 = unique("fam");
  RefreshToken t1 = token(f1, user);
  ASSERT_TRUE(s.create_refresh_token(t1).is_ok());
  EXPECT_EQ(s.create_refresh_token(t1).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.rotate_refresh_token(unique("nope"), token("", ""), 200).status().code(), StatusCode::kNotFound);

  RefreshToken t2 = token("", ""), t3 = token("", ""), t4 = token("", "");
  auto r = s.rotate_refresh_token(t1.token_hash, t2, 200);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->outcome, RotationOutcome::kRotated);
  EXPECT_EQ(r->presented.user_id, user);
  EXPECT_EQ(r->presented.family_id, f1);
  EXPECT_GT(r->lsn, 0u);
  r = s.rotate_refresh_token(t2.token_hash, t3, 300);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->outcome, RotationOutcome::kRotated) << "the successor joined the family and is live";
  EXPECT_EQ(r->presented.user_id, user);
  r = s.rotate_refresh_token(t1.token_hash, t4, 400);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->outcome, RotationOutcome::kReused);
  r = s.rotate_refresh_token(t3.token_hash, t4, 410);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->outcome, RotationOutcome::kRevoked) << "reuse revoked the newest token of the family too";
  EXPECT_EQ(s.rotate_refresh_token(t4.token_hash, token("", ""), 420).status().code(), StatusCode::kNotFound)
      << "no successor stored for a refused rotation";

  RefreshToken t5 = token(unique("fam"), user, 500);
  ASSERT_TRUE(s.create_refresh_token(t5).is_ok());
  r = s.rotate_refresh_token(t5.token_hash, token("", ""), 500);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->outcome, RotationOutcome::kExpired);

  // Logout of one family; unknown tokens are NotFound.
  RefreshToken t6 = token(unique("fam"), user);
  ASSERT_TRUE(s.create_refresh_token(t6).is_ok());
  auto out = s.revoke_refresh_family(t6.token_hash, 600);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->value, user);
  EXPECT_EQ(s.rotate_refresh_token(t6.token_hash, token("", ""), 601)->outcome, RotationOutcome::kRevoked);
  EXPECT_EQ(s.revoke_refresh_family(unique("nope"), 600).status().code(), StatusCode::kNotFound);

  // Logout everywhere: the user's live families (t5's, t7's), not another user's.
  RefreshToken t7 = token(unique("fam"), user), t8 = token(unique("fam"), other);
  ASSERT_TRUE(s.create_refresh_token(t7).is_ok());
  ASSERT_TRUE(s.create_refresh_token(t8).is_ok());
  auto all = s.revoke_user_refresh_families(user, 700);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(all->value, 2);
  EXPECT_EQ(s.rotate_refresh_token(t7.token_hash, token("", ""), 701)->outcome, RotationOutcome::kRevoked);
  EXPECT_EQ(s.rotate_refresh_token(t8.token_hash, token("", ""), 701)->outcome, RotationOutcome::kRotated);

  // Two rotations of one token at once: one wins, the other is reuse (and revokes the family).
  RefreshToken t9 = token(unique("fam"), other);
  ASSERT_TRUE(s.create_refresh_token(t9).is_ok());
  std::vector<RotationOutcome> outcomes(2);
  std::vector<std::thread> racers;
  for (int i = 0; i < 2; ++i)
    racers.emplace_back([&, i] {
      auto raced = s.rotate_refresh_token(t9.token_hash, token("", ""), 800);
      outcomes[i] = raced.is_ok() ? raced->outcome : RotationOutcome::kExpired;
    });
  for (auto& t : racers) t.join();
  std::sort(outcomes.begin(), outcomes.end());
  EXPECT_EQ(outcomes[0], RotationOutcome::kRotated);
  EXPECT_EQ(outcomes[1], RotationOutcome::kReused);
}

// Stop requests across instances: recorded for the owner's message only, found by id on the primary.
TYPED_TEST_P(StoreContractTest, StopRequests) {
  const std::string owner = unique("stop-owner");
  Conversation c = this->conversation(owner);
  Message user = this->append(owner, this->message(c.id, "stop me"));
  auto& s = this->store();
  EXPECT_EQ(s.request_stop(unique("intruder"), c.id, user.id, 300).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.request_stop(owner, c.id, unique("missing"), 300).status().code(), StatusCode::kNotFound);
  auto none = s.stop_requests({user.id});
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty());
  auto lsn = s.request_stop(owner, c.id, user.id, 300);
  ASSERT_TRUE(lsn.is_ok()) << lsn.status().to_string();
  EXPECT_GT(*lsn, 0u);
  EXPECT_TRUE(s.request_stop(owner, c.id, user.id, 301).is_ok()) << "asking twice is fine";
  auto found = s.stop_requests({unique("other"), user.id, "", "quote'}\"{"});
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  EXPECT_EQ(*found, std::vector<std::string>{user.id});
}

REGISTER_TYPED_TEST_SUITE_P(StoreContractTest, Users, ApiKeysAndUsage, Conversations, Pagination, Messages, HostileStrings,
                            RefreshTokens, StopRequests);

}  // namespace chatscale::contract
