// PgStores beyond the shared contract, on real servers (LocalServices): no plaintext at rest (the raw
// columns and a pg_dump), ciphertexts bound to their rows, key rotation (old rows open after a new key
// is put first; rotate_content_keys and `chatscale migrate --rotate-content-keys` re-seal them), NUL
// bytes, and concurrent appends (one row per idempotency key; gap-free seq under contention).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <sodium.h>

#include "prod/db/key_rotation.h"
#include "prod/db/migrate_command.h"
#include "tests/prod/db/pg_test_support.h"

namespace chatscale::db {
namespace {

using testing::LocalServices;
using testing::LocalServicesEnvironment;

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new LocalServicesEnvironment());

LocalServices& services() { return LocalServicesEnvironment::services(); }

std::string sql(const std::string& statement) {
  auto r = LocalServices::psql(services().primary_admin_dsn(), statement);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : "<error>";
}

// Every test of this binary seals under these keys, so rotation may visit any row of the database.
const ContentKey kOld = test::test_key("t1", 'o');
const ContentKey kNew = test::test_key("t2", 'n');
const ReadOptions kPrimary{0, 0, true};

std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 65536> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

// Standard base64 with padding (serve.yaml's form of a content key).
std::string sodium_base64(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

struct Stored {
  Conversation conversation;
  Message message;
};

Stored store_one(PgStores& stores, const std::string& owner, const std::string& title, const std::string& content) {
  auto c = stores.create_conversation(owner, title, 100);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  Message m;
  m.conversation_id = c.is_ok() ? c->value.id : "";
  m.content = content;
  m.created_at = 200;
  auto w = stores.append_message(owner, m);
  EXPECT_TRUE(w.is_ok()) << w.status().to_string();
  return Stored{c.is_ok() ? c->value : Conversation{}, w.is_ok() ? w->value : Message{}};
}

TEST(PgStoresTest, NoPlaintextAtRest) {
  test::PgFixture f(test::local_config(services()), {kOld});
  ASSERT_TRUE(f.ok());
  const std::string title = "zebra-title-0815";
  const std::string content = "zebra-content-4711: my bank PIN is 1234";
  Stored s = store_one(*f.stores, "owner-" + test::unique_email("a"), title, content);
  const std::string raw = sql("SELECT content FROM messages WHERE id = '" + s.message.id + "'");
  EXPECT_EQ(raw.rfind("cs1.t1.", 0), 0u) << raw;
  EXPECT_EQ(raw.find("zebra"), std::string::npos);
  const std::string raw_title = sql("SELECT title FROM conversations WHERE id = '" + s.conversation.id + "'");
  EXPECT_EQ(raw_title.rfind("cs1.t1.", 0), 0u);
  EXPECT_EQ(raw_title.find("zebra"), std::string::npos);
  // The whole database as a dump: the row is there, its words are not.
  const std::string dump = run_command("/usr/lib/postgresql/15/bin/pg_dump --no-password -h 127.0.0.1 -p " +
                                       std::to_string(services().port_base()) + " -U chatscale chatscale");
  EXPECT_NE(dump.find(s.message.id), std::string::npos);
  EXPECT_EQ(dump.find("zebra"), std::string::npos);
  EXPECT_EQ(dump.find("bank PIN"), std::string::npos);
  auto read = f.stores->get_message(s.conversation.owner_id, s.conversation.id, s.message.id, kPrimary);
  ASSERT_TRUE(read.is_ok());
  EXPECT_EQ(read->content, content);
}

// An answer left streaming (its writer died) is ended once it has gone unwritten for the stale time;
// a fresh one, and finished ones, are left alone.
TEST(PgStoresTest, StaleStreamingAnswersAreEndedAsPartial) {
  test::PgFixture f(test::local_config(services()), {kOld});
  ASSERT_TRUE(f.ok());
  const std::string owner = "owner-" + test::unique_email("stale");
  Stored s = store_one(*f.stores, owner, "t", "question");
  Message answer;
  answer.conversation_id = s.conversation.id;
  answer.role = Role::kAssistant;
  answer.status = MessageStatus::kStreaming;
  answer.content = "half an ans";
  answer.created_at = 300;
  auto w = f.stores->append_message(owner, answer);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  auto fresh = f.stores->end_stale_answers(3600);
  ASSERT_TRUE(fresh.is_ok()) << fresh.status().to_string();
  auto still = f.stores->get_message(owner, s.conversation.id, w->value.id, kPrimary);
  ASSERT_TRUE(still.is_ok());
  EXPECT_EQ(still->status, MessageStatus::kStreaming) << "written just now: not stale after an hour's threshold";
  sql("UPDATE messages SET updated_at = now() - interval '10 minutes' WHERE id = '" + w->value.id + "'");
  auto ended = f.stores->end_stale_answers(60);
  ASSERT_TRUE(ended.is_ok()) << ended.status().to_string();
  EXPECT_GE(*ended, 1);
  auto after = f.stores->get_message(owner, s.conversation.id, w->value.id, kPrimary);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->status, MessageStatus::kPartial);
  EXPECT_EQ(after->finish_reason, FinishReason::kError);
  EXPECT_EQ(after->content, "half an ans") << "the checkpointed text is kept";
  auto user = f.stores->get_message(owner, s.conversation.id, s.message.id, kPrimary);
  ASSERT_TRUE(user.is_ok());
  EXPECT_EQ(user->status, MessageStatus::kComplete);
  EXPECT_FALSE(f.stores->end_stale_answers(-1).is_ok());
}

TEST(PgStoresTest, CiphertextsAreBoundToTheirRows) {
  test::PgFixture f(test::local_config(services()), {kOld});
  ASSERT_TRUE(f.ok());
  const std::string owner = "owner-" + test::unique_email("b");
  Stored a = store_one(*f.stores, owner, "title a", "zebra-a");
  Message second;
  second.conversation_id = a.conversation.id;
  second.content = "zebra-b";
  auto b = f.stores->append_message(owner, second);
  ASSERT_TRUE(b.is_ok());
  // Someone with write access to the table moves b's sealed content onto a's row.
  sql("UPDATE messages SET content = (SELECT content FROM messages WHERE id = '" + b->value.id + "') WHERE id = '" +
      a.message.id + "'");
  auto moved = f.stores->get_message(owner, a.conversation.id, a.message.id, kPrimary);
  EXPECT_EQ(moved.status().code(), StatusCode::kInternal);
  EXPECT_EQ(moved.status().message().find("zebra"), std::string::npos);
  // A message content cannot pose as a title either.
  sql("UPDATE conversations SET title = (SELECT content FROM messages WHERE id = '" + b->value.id + "') WHERE id = '" +
      a.conversation.id + "'");
  EXPECT_EQ(f.stores->get_conversation(owner, a.conversation.id, kPrimary).status().code(), StatusCode::kInternal);
  EXPECT_EQ(f.stores->list_conversations(owner, Page{}, kPrimary).status().code(), StatusCode::kInternal);
  // Rows that cannot open would stop a key rotation: remove them.
  ASSERT_TRUE(f.stores->delete_conversation(owner, a.conversation.id).is_ok());
}

TEST(PgStoresTest, KeyRotation) {
  const std::string owner = "owner-" + test::unique_email("c");
  Stored old_row;
  {
    test::PgFixture before(test::local_config(services()), {kOld});
    ASSERT_TRUE(before.ok());
    old_row = store_one(*before.stores, owner, "old title", "sealed under t1");
  }
  // The new key first, the old one kept: old rows open, new rows are sealed under the new key.
  test::PgFixture rotated(test::local_config(services()), {kNew, kOld});
  ASSERT_TRUE(rotated.ok());
  auto old_read = rotated.stores->get_message(owner, old_row.conversation.id, old_row.message.id, kPrimary);
  ASSERT_TRUE(old_read.is_ok()) << old_read.status().to_string();
  EXPECT_EQ(old_read->content, "sealed under t1");
  Stored new_row = store_one(*rotated.stores, owner, "new title", "sealed under t2");
  EXPECT_EQ(sql("SELECT left(content, 7) FROM messages WHERE id = '" + new_row.message.id + "'"), "cs1.t2.");
  EXPECT_EQ(sql("SELECT left(content, 7) FROM messages WHERE id = '" + old_row.message.id + "'"), "cs1.t1.");
  // A cipher without the old key cannot open old rows (and says which key it lacks).
  test::PgFixture only_new(test::local_config(services()), {kNew});
  ASSERT_TRUE(only_new.ok());
  auto lacking = only_new.stores->get_message(owner, old_row.conversation.id, old_row.message.id, kPrimary);
  EXPECT_EQ(lacking.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lacking.status().message().find("t1"), std::string::npos);

  // Re-seal everything under t2, in small batches.
  auto report = rotate_content_keys(services().primary_dsn(), rotated.stores->cipher(), 2);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_GE(report->messages, 1);
  EXPECT_GE(report->conversations, 1);
  EXPECT_EQ(sql("SELECT count(*) FROM messages WHERE NOT starts_with(content, 'cs1.t2.')"), "0");
  EXPECT_EQ(sql("SELECT count(*) FROM conversations WHERE NOT starts_with(title, 'cs1.t2.')"), "0");
  auto after = only_new.stores->get_message(owner, old_row.conversation.id, old_row.message.id, kPrimary);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_EQ(after->content, "sealed under t1");
  auto title = only_new.stores->get_conversation(owner, old_row.conversation.id, kPrimary);
  ASSERT_TRUE(title.is_ok());
  EXPECT_EQ(title->title, "old title");
  EXPECT_EQ(rotate_content_keys(services().primary_dsn(), rotated.stores->cipher(), 2).value().messages, 0);

  // The command, back to t1 (so t1 comes first), from a serve.yaml.
  const std::filesystem::path dir = services().dir() + "/rotation";
  std::filesystem::create_directories(dir);
  const std::string yaml = (dir / "serve.yaml").string();
  std::ofstream(yaml) << "database:\n  primary: {name: primary, dsn: \"" << services().primary_dsn()
                      << "\", region: local}\nsecrets:\n  content_keys:\n"
                      << "    - {id: t1, key: \"" << sodium_base64(kOld.key) << "\"}\n"
                      << "    - {id: t2, key: \"" << sodium_base64(kNew.key) << "\"}\n";
  EXPECT_EQ(migrate_command({"--config", yaml, "--rotate-content-keys", "--batch", "1"}), 0);
  EXPECT_EQ(sql("SELECT count(*) FROM messages WHERE NOT starts_with(content, 'cs1.t1.')"), "0");
  test::PgFixture back(test::local_config(services()), {kOld});
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back.stores->get_message(owner, new_row.conversation.id, new_row.message.id, kPrimary).is_ok());
}

TEST(PgStoresTest, NulBytes) {
  test::PgFixture f(test::local_config(services()), {kOld});
  ASSERT_TRUE(f.ok());
  const std::string owner = "owner-" + test::unique_email("d");
  const std::string with_nul("before\0after", 12);
  // Sealed columns hold any bytes.
  Stored s = store_one(*f.stores, owner, with_nul, with_nul);
  auto read = f.stores->get_message(owner, s.conversation.id, s.message.id, kPrimary);
  ASSERT_TRUE(read.is_ok());
  EXPECT_EQ(read->content, with_nul);
  EXPECT_EQ(f.stores->get_conversation(owner, s.conversation.id, kPrimary).value().title, with_nul);
  // Plain text columns cannot: refused up front, not mangled.
  User u;
  u.email = std::string("nul\0@example.com", 16);
  EXPECT_EQ(f.stores->create_user(u).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.stores->find_user_by_email(u.email, kPrimary).status().code(), StatusCode::kNotFound);
  Message keyed;
  keyed.conversation_id = s.conversation.id;
  keyed.idempotency_key = with_nul;
  EXPECT_EQ(f.stores->append_message(owner, keyed).status().code(), StatusCode::kInvalidArgument);
}

TEST(PgStoresTest, ConcurrentAppends) {
  test::PgFixture f(test::local_config(services()), {kOld});
  ASSERT_TRUE(f.ok());
  const std::string owner = "owner-" + test::unique_email("e");
  auto c = f.stores->create_conversation(owner, "race", 100);
  ASSERT_TRUE(c.is_ok());
  // Eight clients retry the same request at once: one row, every caller gets it.
  constexpr int kClients = 8;
  std::vector<Result<Written<Message>>> results(kClients, Result<Written<Message>>(internal_error("not run")));
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Message m;
      m.conversation_id = c->value.id;
      m.content = "hello";
      m.idempotency_key = "retry-key";
      results[i] = f.stores->append_message(owner, m);
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    fresh += r->existing ? 0 : 1;
    ids.insert(r->value.id);
    EXPECT_EQ(r->value.seq, 1);
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(sql("SELECT count(*) FROM messages WHERE conversation_id = '" + c->value.id + "'"), "1");

  // Many distinct appends at once: seq stays gap-free and message_count matches.
  threads.clear();
  constexpr int kPerClient = 10;
  std::atomic<int> failures{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kPerClient; ++j) {
        Message m;
        m.conversation_id = c->value.id;
        m.content = std::to_string(i) + "/" + std::to_string(j);
        if (!f.stores->append_message(owner, m).is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const int total = 1 + kClients * kPerClient;
  auto conv = f.stores->get_conversation(owner, c->value.id, kPrimary);
  ASSERT_TRUE(conv.is_ok());
  EXPECT_EQ(conv->message_count, total);
  auto all = f.stores->list_messages(owner, c->value.id, Page{"", 1000}, kPrimary);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->items.size(), static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) EXPECT_EQ(all->items[i].seq, i + 1);
}

}  // namespace
}  // namespace chatscale::db
