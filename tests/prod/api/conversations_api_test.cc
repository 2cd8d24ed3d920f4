// Conversations through the real routes: CRUD, ownership (another user's conversation is 404 on every
// route), cursor pagination, strict bodies (malformed JSON stores nothing), verbatim storage of
// hostile-looking strings, and the read-your-writes token.
#include <gtest/gtest.h>

#include <set>

#include "api_test_support.h"
#include "replica/read_token.h"

namespace chatscale::api::test {
namespace {

TEST(ConversationsApi, CreateGetRenameListDelete) {
  ApiHarness h;
  std::string token = h.register_user("ann@example.com");
  Reply created = h.call_as(token, "POST", "/conversations", R"({"title": "Trip to Lisbon"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.json()["id"];
  EXPECT_EQ(created.json()["title"], "Trip to Lisbon");
  EXPECT_EQ(created.json()["message_count"], 0);

  Reply untitled = h.call_as(token, "POST", "/conversations");
  ASSERT_EQ(untitled.status, 201) << "the body is optional";

  Reply got = h.call_as(token, "GET", "/conversations/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json()["title"], "Trip to Lisbon");

  Reply renamed = h.call_as(token, "PATCH", "/conversations/" + id, R"({"title": "Porto instead"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(h.call_as(token, "GET", "/conversations/" + id).json()["title"], "Porto instead");

  Reply list = h.call_as(token, "GET", "/conversations");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()["data"].size(), 2u);
  EXPECT_TRUE(list.json()["next_cursor"].is_null());

  EXPECT_EQ(h.call_as(token, "DELETE", "/conversations/" + id).status, 204);
  EXPECT_EQ(h.call_as(token, "GET", "/conversations/" + id).status, 404);
  EXPECT_EQ(h.call_as(token, "DELETE", "/conversations/" + id).status, 404);
}

TEST(ConversationsApi, AnotherUsersConversationIsNotFoundOnEveryRoute) {
  ApiHarness h;
  std::string owner = h.register_user("owner@example.com");
  std::string other = h.register_user("other@example.com");
  std::string id = h.create_conversation(owner);
  Reply sent = h.call_as(owner, "POST", "/conversations/" + id + "/messages", R"({"content": "hello"})");
  ASSERT_EQ(sent.status, 200) << sent.body;
  std::string message_id = sent.sse().events.at(0).json()["message"]["id"];
  const std::string base = "/conversations/" + id;

  struct Probe {
    const char* method;
    std::string target;
    std::string body;
  };
  std::vector<Probe> probes = {
      {"GET", base, ""},
      {"PATCH", base, R"({"title": "mine now"})"},
      {"DELETE", base, ""},
      {"GET", base + "/messages", ""},
      {"POST", base + "/messages", R"({"content": "let me in"})"},
      {"GET", base + "/messages/" + message_id + "/stream", ""},
      {"POST", base + "/messages/" + message_id + "/stop", ""},
  };
  Reply unknown = h.call_as(other, "GET", "/conversations/c-does-not-exist");
  for (const auto& probe : probes) {
    Reply reply = h.call_as(other, probe.method, probe.target, probe.body);
    EXPECT_EQ(reply.status, 404) << probe.method << " " << probe.target << ": " << reply.body;
    EXPECT_EQ(reply.json()["error"]["code"], "not_found") << probe.method << " " << probe.target;
  }
  EXPECT_EQ(unknown.json()["error"]["type"], h.call_as(other, "GET", base).json()["error"]["type"]);
  // Nothing changed for the owner.
  Reply mine = h.call_as(owner, "GET", base);
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.json()["title"], "chat");
  EXPECT_EQ(mine.json()["message_count"], 2);
}

TEST(ConversationsApi, CursorPagination) {
  ApiHarness h;
  std::string token = h.register_user("pager@example.com");
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) created.insert(h.create_conversation(token, "c" + std::to_string(i)));

  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::string target = "/conversations?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor);
    Reply page = h.call_as(token, "GET", target);
    ASSERT_EQ(page.status, 200) << page.body;
    auto body = page.json();
    EXPECT_LE(body["data"].size(), 2u);
    for (const auto& c : body["data"]) EXPECT_TRUE(seen.insert(c["id"].get<std::string>()).second) << "no repeats";
    cursor = body["next_cursor"].is_null() ? "" : body["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen, created);
  EXPECT_EQ(pages, 3);

  std::string id = *created.begin();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(h.call_as(token, "POST", "/conversations/" + id + "/messages", R"({"content": "ping"})").status, 200);
  Reply first = h.call_as(token, "GET", "/conversations/" + id + "/messages?limit=4");
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(first.json()["data"].size(), 4u);
  EXPECT_EQ(first.json()["data"][0]["role"], "user");
  EXPECT_EQ(first.json()["data"][1]["role"], "assistant");
  std::string next = first.json()["next_cursor"];
  Reply second = h.call_as(token, "GET", "/conversations/" + id + "/messages?limit=4&cursor=" + next);
  ASSERT_EQ(second.json()["data"].size(), 2u);
  EXPECT_EQ(second.json()["data"][1]["seq"], 6);
  EXPECT_TRUE(second.json()["next_cursor"].is_null());

  for (const char* bad : {"0", "201", "-1", "ten", "5x", ""})
    EXPECT_EQ(h.call_as(token, "GET", std::string("/conversations?limit=") + bad).status, 400) << bad;
}

TEST(ConversationsApi, MalformedBodiesAreRefusedAndNothingIsStored) {
  ApiHarness h;
  std::string token = h.register_user("strict@example.com");
  std::string id = h.create_conversation(token);
  std::int64_t writes = h.store.writes();
  struct Case {
    const char* method;
    std::string target;
    const char* body;
    const char* says;
  };
  std::vector<Case> cases = {
      {"POST", "/conversations", "{\"title\": ", "invalid JSON"},
      {"POST", "/conversations", "[1, 2]", "must be a JSON object"},
      {"POST", "/conversations", R"({"title": "a", "title": "b"})", "duplicate key"},
      {"POST", "/conversations", R"({"title": 42})", "title: must be a string"},
      {"POST", "/conversations", R"({"title": "x", "owner_id": "u-1"})", "owner_id: unknown field"},
      {"PATCH", "/conversations/" + id, R"({})", "title: missing required field"},
      {"PATCH", "/conversations/" + id, "{\"title\": \"a\\u0000b\"}", "U+0000"},
      {"POST", "/conversations/" + id + "/messages", "{\"content\": \"hi\"", "invalid JSON"},
      {"POST", "/conversations/" + id + "/messages", R"({"content": ""})", "content: must not be empty"},
      {"POST", "/conversations/" + id + "/messages", R"({"content": "hi", "max_tokens": 0})", "max_tokens"},
      {"POST", "/conversations/" + id + "/messages", R"({"content": "hi", "max_tokens": 1.5})", "max_tokens"},
      {"POST", "/conversations/" + id + "/messages", R"({"content": "hi", "temperature": "hot"})", "temperature"},
      {"POST", "/conversations/" + id + "/messages", R"({"content": "hi", "role": "system"})", "role: unknown field"},
  };
  for (const auto& c : cases) {
    Reply reply = h.call_as(token, c.method, c.target, c.body);
    EXPECT_EQ(reply.status, 400) << c.body << ": " << reply.body;
    EXPECT_NE(reply.json()["error"]["message"].get<std::string>().find(c.says), std::string::npos)
        << c.body << ": " << reply.body;
  }
  EXPECT_EQ(h.store.writes(), writes) << "no refused body reached the store";
  EXPECT_EQ(h.backend.starts(), 0);
}

TEST(ConversationsApi, HostileLookingStringsAreStoredVerbatim) {
  ApiHarness h;
  std::string token = h.register_user("bobby@example.com");
  const std::string title = "Robert'); DROP TABLE conversations;-- \"<script>alert(1)</script>\" %s %n \\x00";
  const std::string content = "1' OR '1'='1'; DELETE FROM messages WHERE '' = '";
  Reply created = h.call_as(token, "POST", "/conversations", nlohmann::json{{"title", title}}.dump());
  ASSERT_EQ(created.status, 201);
  std::string id = created.json()["id"];
  ASSERT_EQ(h.call_as(token, "POST", "/conversations/" + id + "/messages", nlohmann::json{{"content", content}}.dump()).status,
            200);
  EXPECT_EQ(h.call_as(token, "GET", "/conversations/" + id).json()["title"], title);
  Reply messages = h.call_as(token, "GET", "/conversations/" + id + "/messages");
  EXPECT_EQ(messages.json()["data"][0]["content"], content);
  EXPECT_EQ(h.store.all_messages(id).at(0).content, content);
}

TEST(ConversationsApi, ReadYourWritesToken) {
  ApiHarness h;
  std::string token = h.register_user("ryw@example.com");
  Reply created = h.call_as(token, "POST", "/conversations", R"({"title": "t"})");
  auto header = created.header("x-chatscale-read-token");
  ASSERT_TRUE(header.has_value());
  auto decoded = decode_read_token(*header);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded->lsn, h.store.last_lsn());
  std::string id = created.json()["id"];
  ASSERT_EQ(h.call_as(token, "GET", "/conversations/" + id, "", {{"x-chatscale-read-token", *header}}).status, 200);
  EXPECT_EQ(h.store.last_read_min_lsn(), decoded->lsn) << "the read carried the token to the store";
  EXPECT_EQ(h.call_as(token, "GET", "/conversations/" + id, "", {{"x-chatscale-read-token", "not-a-token"}}).status, 400);

  // The message stream's done event carries the token of the answer's writes.
  Reply sent = h.call_as(token, "POST", "/conversations/" + id + "/messages", R"({"content": "hi"})");
  auto done = sent.sse().events.back().json();
  auto after = decode_read_token(done["read_token"].get<std::string>());
  ASSERT_TRUE(after.is_ok());
  EXPECT_GT(after->lsn, decoded->lsn);
}

}  // namespace
}  // namespace chatscale::api::test
