#include "sim/db/sim_stores.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "testing/manual_clock.h"
#include "testing/memory_metrics.h"
#include "tests/sim/db/db_test_util.h"

namespace chatscale::sim {
namespace {

using chatscale::testing::ManualClock;
using chatscale::testing::MemoryMetrics;

constexpr int kEast = 0;
constexpr int kWest = 1;

class SimStoresTest : public ::testing::Test {
 protected:
  SimStoresTest() {
    DatabaseModelOptions o;
    o.service_time_cv = 0;  // exact latencies
    model_ = testing_util::make_model(testing_util::two_regions(), 0.01, metrics_, o);
    model_->tick(0.0);      // replicas report: in rotation
    stores_ = std::make_unique<SimStores>(*model_, clock_);
  }

  Message user_message(const std::string& conversation, std::size_t bytes, std::string key = "") {
    Message m;
    m.conversation_id = conversation;
    m.role = Role::kUser;
    m.content.assign(bytes, 'u');
    m.idempotency_key = std::move(key);
    return m;
  }
  Message answer(const std::string& conversation, std::size_t bytes) {
    Message m = user_message(conversation, bytes);
    m.role = Role::kAssistant;
    m.status = MessageStatus::kStreaming;
    return m;
  }

  MemoryMetrics metrics_;
  ManualClock clock_{0.0};
  std::unique_ptr<DatabaseModel> model_;
  std::unique_ptr<SimStores> stores_;
};

TEST_F(SimStoresTest, MappingTableFollowsTheSpec) {
  StoreCosts c = store_costs(model_->spec());
  EXPECT_DOUBLE_EQ(c.get_conversation, 5);  // account, quota, metadata, flags, rate-limit state
  EXPECT_DOUBLE_EQ(c.recent_messages, 1);
  EXPECT_DOUBLE_EQ(c.user_append, 3);       // messages/2 + conversation_metadata + logs
  EXPECT_DOUBLE_EQ(c.answer_append, 1);
  EXPECT_DOUBLE_EQ(c.usage, 1);
  auto table = store_call_costs(model_->spec());
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table[0].call, "get_conversation");
  EXPECT_DOUBLE_EQ(table[0].amount, 5);
}

TEST_F(SimStoresTest, CallsTakeTheModelsLatency) {
  std::string id = stores_->open_conversation("alice", kWest, clock_.now());
  EXPECT_DOUBLE_EQ(clock_.now(), 0.0);  // registering is free
  // West -> primary in east: 80 ms round trip + 2 ms commit.
  auto w = stores_->append_message("alice", user_message(id, 100));
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  EXPECT_NEAR(clock_.now(), 0.082, 1e-9);
  EXPECT_EQ(w->lsn, 300'000u);  // 3 rows at f = 0.01, 1,000 WAL bytes each
  // A read without token at a west replica: 2 ms round trip + 5 statements x 1 ms.
  double before = clock_.now();
  ASSERT_TRUE(stores_->get_conversation("alice", id, ReadOptions{}).is_ok());
  EXPECT_NEAR(clock_.now() - before, 0.007, 1e-9);
  // With the fresh token the read goes to the primary (not replayed before the next tick).
  before = clock_.now();
  ASSERT_TRUE(stores_->recent_messages("alice", id, 10, ReadOptions{w->lsn, before, false}).is_ok());
  EXPECT_NEAR(clock_.now() - before, 0.081, 1e-9);
  EXPECT_DOUBLE_EQ(metrics_.value(MetricId::kDbPrimaryFallbacks, {"token_not_replayed"}), 100.0);
  // Usage goes from the user's region.
  before = clock_.now();
  ASSERT_TRUE(stores_->record_usage("alice", "m", Usage{10, 20}, before).is_ok());
  EXPECT_NEAR(clock_.now() - before, 0.082, 1e-9);
}

TEST_F(SimStoresTest, OwnershipIsCheckedLikeTheRealStore) {
  std::string id = stores_->open_conversation("alice", kEast, 0);
  ASSERT_TRUE(stores_->append_message("alice", user_message(id, 10)).is_ok());
  EXPECT_EQ(stores_->get_conversation("mallory", id, {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_->append_message("mallory", user_message(id, 10)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_->recent_messages("mallory", id, 5, {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_->delete_conversation("mallory", id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_->get_conversation("alice", "c999", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_->get_conversation("alice", "nonsense", {}).status().code(), StatusCode::kNotFound);
  auto mine = stores_->get_conversation("alice", id, {});
  ASSERT_TRUE(mine.is_ok());
  EXPECT_EQ(mine->message_count, 1);
}

TEST_F(SimStoresTest, SequenceNumbersIdsAndRecentSizes) {
  std::string id = stores_->open_conversation("bob", kEast, 0);
  for (int turn = 0; turn < 10; ++turn) {
    auto u = stores_->append_message("bob", user_message(id, 100 + turn));
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u->value.seq, 2 * turn + 1);
    EXPECT_EQ(u->value.id, id + "-" + std::to_string(2 * turn + 1));
    auto a = stores_->append_message("bob", answer(id, 1));
    ASSERT_TRUE(a.is_ok());
    Message final_answer = a->value;
    final_answer.content.assign(500 + turn, 'a');
    final_answer.status = MessageStatus::kComplete;
    final_answer.finish_reason = FinishReason::kStop;
    ASSERT_TRUE(stores_->update_message("bob", final_answer).is_ok());
  }
  auto recent = stores_->recent_messages("bob", id, 4, {});
  ASSERT_TRUE(recent.is_ok());
  ASSERT_EQ(recent->size(), 4u);
  EXPECT_EQ((*recent)[0].seq, 17);  // oldest first
  EXPECT_EQ((*recent)[0].role, Role::kUser);
  EXPECT_EQ((*recent)[0].content.size(), 108u);
  EXPECT_EQ((*recent)[1].content.size(), 508u);
  EXPECT_EQ((*recent)[1].status, MessageStatus::kComplete);
  EXPECT_EQ((*recent)[1].finish_reason, FinishReason::kStop);
  EXPECT_EQ((*recent)[3].content.size(), 509u);
  // Only the ring of the newest 16 is retained.
  auto all = stores_->recent_messages("bob", id, 100, {});
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), static_cast<std::size_t>(kRecentMessages));
  EXPECT_EQ(all->front().seq, 5);
  EXPECT_EQ(stores_->get_message("bob", id, id + "-1", {}).status().code(), StatusCode::kNotFound);
  auto m = stores_->get_message("bob", id, id + "-20", {});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->content.size(), 509u);
  Message missing = answer(id, 1);
  missing.id = id + "-21";
  EXPECT_EQ(stores_->update_message("bob", missing).status().code(), StatusCode::kNotFound);
}

TEST_F(SimStoresTest, IdempotentRetryFindsItsTwin) {
  std::string id = stores_->open_conversation("carol", kEast, 0);
  auto first = stores_->append_message("carol", user_message(id, 42, "key-1"));
  ASSERT_TRUE(first.is_ok());
  double before = clock_.now();
  auto again = stores_->append_message("carol", user_message(id, 42, "key-1"));
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->value.seq, first->value.seq);
  EXPECT_EQ(again->value.idempotency_key, "key-1");
  EXPECT_NEAR(clock_.now() - before, 0.003, 1e-9);  // one primary read, no write
  EXPECT_EQ(stores_->get_conversation("carol", id, {})->message_count, 1);
}

TEST_F(SimStoresTest, ForgetFreesState) {
  std::string a = stores_->open_conversation("dave", kEast, 0);
  std::string b = stores_->open_conversation("dave", kWest, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(stores_->live_conversations(), 2u);
  stores_->forget_conversation(a);
  EXPECT_EQ(stores_->live_conversations(), 1u);
  EXPECT_EQ(stores_->get_conversation("dave", a, {}).status().code(), StatusCode::kNotFound);
  stores_->forget_conversation(a);  // twice is harmless
  // Dave's usage now comes from his remaining (west) conversation.
  double before = clock_.now();
  ASSERT_TRUE(stores_->record_usage("dave", "m", Usage{1, 1}, before).is_ok());
  EXPECT_NEAR(clock_.now() - before, 0.082, 1e-9);
  auto deleted = stores_->delete_conversation("dave", b);
  ASSERT_TRUE(deleted.is_ok());
  EXPECT_EQ(stores_->live_conversations(), 0u);
}

TEST_F(SimStoresTest, CreateListRename) {
  auto c = stores_->create_conversation_in(kWest, "erin", "hello", 5.0);
  ASSERT_TRUE(c.is_ok());
  EXPECT_NEAR(clock_.now(), 0.082, 1e-9);
  auto d = stores_->create_conversation("erin", "second", 6.0);  // default region: the primary's
  ASSERT_TRUE(d.is_ok());
  EXPECT_NEAR(clock_.now(), 0.082 + 0.004, 1e-9);
  auto list = stores_->list_conversations("erin", Page{"", 1}, {});
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].id, d->value.id);  // most recently updated first
  auto next = stores_->list_conversations("erin", Page{list->next_cursor, 1}, {});
  ASSERT_TRUE(next.is_ok());
  ASSERT_EQ(next->items.size(), 1u);
  EXPECT_EQ(next->items[0].id, c->value.id);
  EXPECT_TRUE(next->next_cursor.empty());
  auto renamed = stores_->rename_conversation("erin", c->value.id, "renamed", 7.0);
  ASSERT_TRUE(renamed.is_ok());
  EXPECT_EQ(renamed->value.title, "renamed");
  EXPECT_EQ(stores_->set_region(c->value.id, 9).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(stores_->set_region(c->value.id, kEast).is_ok());
}

TEST_F(SimStoresTest, PrimaryDownIsUnavailableAfterARoundTrip) {
  std::string id = stores_->open_conversation("frank", kWest, 0);
  model_->set_primary_down(true);
  double before = clock_.now();
  auto w = stores_->append_message("frank", user_message(id, 10));
  EXPECT_EQ(w.status().code(), StatusCode::kUnavailable);
  EXPECT_NEAR(clock_.now() - before, 0.080, 1e-9);
  // Nothing was stored.
  model_->set_primary_down(false);
  EXPECT_EQ(stores_->get_conversation("frank", id, {})->message_count, 0);
}

}  // namespace
}  // namespace chatscale::sim
