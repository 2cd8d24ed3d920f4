// Sending messages through the real routes and the generation hub: the SSE event sequence, idempotent
// retries, resume after a disconnect (from memory and from the store), stop, heartbeats, moderation of
// input (400, not billed) and output (content_filter), rate limits (429) and shedding (503).
#include <gtest/gtest.h>

#include <thread>

#include "api_test_support.h"

namespace chatscale::api::test {
namespace {

const std::string kReply = "Hello! This is a deterministic answer from the fake backend.";

// The answer text a client reading these events ends up with (a delta with "replace" restarts it: a
// follower of another instance's answer first gets the whole checkpointed text).
std::string deltas(const std::vector<SseEvent>& events) {
  std::string text;
  for (const auto& e : events) {
    if (e.event != "delta") continue;
    if (e.json().value("replace", false)) text.clear();
    text += e.json()["content"].get<std::string>();
  }
  return text;
}

std::uint64_t event_number(const SseEvent& e) { return std::stoull(e.id.substr(e.id.rfind(':') + 1)); }

struct Chat {
  ApiHarness& h;
  std::string token;
  std::string conversation;
  Reply send(const std::string& content, std::vector<std::pair<std::string, std::string>> headers = {},
             int disconnect_after = -1) {
    return h.call_as(token, "POST", "/conversations/" + conversation + "/messages",
                     nlohmann::json{{"content", content}}.dump(), std::move(headers), disconnect_after);
  }
  std::string base() const { return "/conversations/" + conversation + "/messages/"; }
};

Chat start_chat(ApiHarness& h, const std::string& email = "user@example.com") {
  std::string token = h.register_user(email);
  return Chat{h, token, h.create_conversation(token)};
}

// Polls until the generation of `message_id` has at least `events` events (or the deadline).
bool wait_for_events(ApiHarness& h, const std::string& owner, const Chat& chat, const std::string& message_id,
                     std::size_t events) {
  double deadline = h.clock.now() + 10;
  while (h.clock.now() < deadline) {
    auto g = h.hub.find(owner, chat.conversation, message_id);
    if (g && g->size() >= events) return true;
    h.clock.sleep_for(0.002);
  }
  return false;
}

TEST(MessagesApi, StreamsMessageDeltasAndDoneWithIncreasingIds) {
  ApiHarness h;
  Chat chat = start_chat(h);
  Reply reply = chat.send("Tell me something.");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(reply.streamed);
  EXPECT_TRUE(reply.ended);
  EXPECT_EQ(reply.header("content-type").value_or("").rfind("text/event-stream", 0), 0u);
  EXPECT_TRUE(reply.header("x-ratelimit-remaining-requests").has_value());
  auto events = reply.sse().events;
  ASSERT_GE(events.size(), 3u);

  EXPECT_EQ(events.front().event, "message");
  auto user = events.front().json()["message"];
  std::string message_id = user["id"];
  EXPECT_EQ(user["role"], "user");
  EXPECT_EQ(user["content"], "Tell me something.");
  EXPECT_EQ(reply.header("x-chatscale-message-id"), message_id);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, message_id + ":" + std::to_string(i + 1)) << "ids count up from 1 without gaps";
    if (i > 0 && i + 1 < events.size()) {
      EXPECT_EQ(events[i].event, "delta");
    }
  }
  EXPECT_EQ(deltas(events), kReply);

  const auto& done = events.back();
  EXPECT_EQ(done.event, "done");
  auto data = done.json();
  EXPECT_EQ(data["finish_reason"], "stop");
  EXPECT_EQ(data["status"], "complete");
  EXPECT_EQ(data["usage"]["completion_tokens"], 10);
  EXPECT_GT(data["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(data["usage"]["total_tokens"],
            data["usage"]["prompt_tokens"].get<int>() + data["usage"]["completion_tokens"].get<int>());
  EXPECT_FALSE(data.contains("error"));

  auto stored = h.store.all_messages(chat.conversation);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].content, kReply);
  EXPECT_EQ(stored[1].id, data["message_id"]);
  EXPECT_EQ(h.store.usage_of(h.user_id_of("user@example.com")).completion_tokens, 10);
}

TEST(MessagesApi, IdempotentRetryReplaysTheSameGeneration) {
  ApiHarness h;
  Chat chat = start_chat(h);
  Reply first = chat.send("once only", {{"Idempotency-Key", "key-1"}});
  ASSERT_EQ(first.status, 200);
  Reply retry = chat.send("once only", {{"Idempotency-Key", "key-1"}});
  ASSERT_EQ(retry.status, 200);
  auto a = first.sse().events, b = retry.sse().events;
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id) << "the same events, ids included";
    EXPECT_EQ(a[i].data, b[i].data);
  }
  EXPECT_EQ(h.backend.starts(), 1);
  EXPECT_EQ(h.store.all_messages(chat.conversation).size(), 2u);

  // A retry while the first attempt is still streaming joins it.
  auto script = HarnessOptions::fast_script();
  script.token_interval = 0.02;
  h.backend.set_script(script);
  Reply cut = chat.send("second", {{"Idempotency-Key", "key-2"}}, /*disconnect_after=*/2);
  Reply joined = chat.send("second", {{"Idempotency-Key", "key-2"}});
  EXPECT_EQ(deltas(joined.sse().events), kReply);
  EXPECT_EQ(h.backend.starts(), 2);
  EXPECT_EQ(cut.sse().events.front().id, joined.sse().events.front().id);
  EXPECT_EQ(h.store.all_messages(chat.conversation).size(), 4u);

  EXPECT_EQ(chat.send("bad key", {{"Idempotency-Key", std::string(256, 'k')}}).status, 400);
  EXPECT_EQ(chat.send("bad key", {{"Idempotency-Key", "has space"}}).status, 400);
}

TEST(MessagesApi, RetryOfAFailedGenerationGeneratesAgain) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto failing = HarnessOptions::fast_script();
  failing.fail_after_tokens = 2;
  h.backend.set_script(failing);
  auto first = chat.send("try me", {{"Idempotency-Key", "k"}}).sse().events;
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back().json()["finish_reason"], "error");
  EXPECT_TRUE(first.back().json().contains("error"));
  h.backend.set_script(HarnessOptions::fast_script());
  auto second = chat.send("try me", {{"Idempotency-Key", "k"}}).sse().events;
  EXPECT_EQ(second.front().json()["message"]["id"], first.front().json()["message"]["id"]) << "the same user message";
  EXPECT_EQ(second.back().json()["finish_reason"], "stop");
  EXPECT_EQ(deltas(second), kReply);
  EXPECT_EQ(h.backend.starts(), 2);
}

TEST(MessagesApi, RetryAfterTheGraceGetsTheStoredAnswer) {
  HarnessOptions options;
  options.hub.grace_s = 0;  // gone from memory as soon as it ends
  ApiHarness h(options);
  Chat chat = start_chat(h);
  ASSERT_EQ(chat.send("remember me", {{"Idempotency-Key", "k"}}).status, 200);
  ASSERT_TRUE(h.wait_idle());
  Reply retry = chat.send("remember me", {{"Idempotency-Key", "k"}});
  auto events = retry.sse().events;
  ASSERT_EQ(events.size(), 3u) << retry.body;
  EXPECT_EQ(events[0].event, "message");
  EXPECT_EQ(deltas(events), kReply);
  EXPECT_EQ(events[2].json()["finish_reason"], "stop");
  EXPECT_EQ(h.backend.starts(), 1) << "answered from the store, not generated again";
}

TEST(MessagesApi, ResumeAfterDisconnectGetsExactlyTheMissingEvents) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.token_interval = 0.01;
  h.backend.set_script(script);
  Reply cut = chat.send("long answer please", {}, /*disconnect_after=*/3);
  auto got = cut.sse().events;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_FALSE(cut.ended);
  std::string message_id = got[0].json()["message"]["id"];

  Reply resumed = h.call_as(chat.token, "GET", chat.base() + message_id + "/stream", "", {{"Last-Event-ID", got.back().id}});
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  auto rest = resumed.sse().events;
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(event_number(rest.front()), 4u) << "starts right after the last event received";
  for (std::size_t i = 1; i < rest.size(); ++i) EXPECT_EQ(event_number(rest[i]), event_number(rest[i - 1]) + 1);
  EXPECT_EQ(rest.back().event, "done");
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(deltas(got), kReply) << "nothing lost, nothing repeated";

  // Without Last-Event-ID: the whole stream again; a foreign event id: 400.
  EXPECT_EQ(deltas(h.call_as(chat.token, "GET", chat.base() + message_id + "/stream").sse().events), kReply);
  EXPECT_EQ(h.call_as(chat.token, "GET", chat.base() + message_id + "/stream", "", {{"Last-Event-ID", "m-x:2"}}).status,
            400);
}

TEST(MessagesApi, ResumeFromTheStoreOnceTheGenerationIsGone) {
  HarnessOptions options;
  options.hub.grace_s = 0;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  Reply cut = chat.send("answer me", {}, /*disconnect_after=*/2);
  std::string message_id = cut.sse().events.at(0).json()["message"]["id"];
  ASSERT_TRUE(h.wait_idle());
  Reply resumed = h.call_as(chat.token, "GET", chat.base() + message_id + "/stream", "", {{"Last-Event-ID", message_id + ":2"}});
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  auto events = resumed.sse().events;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "delta");
  EXPECT_EQ(events[0].id, message_id + ":3");
  EXPECT_EQ(events[0].json()["replace"], true);
  EXPECT_EQ(events[0].json()["content"], kReply);
  EXPECT_EQ(events[1].event, "done");
  EXPECT_EQ(events[1].id, message_id + ":4");
  EXPECT_EQ(events[1].json()["finish_reason"], "stop");
}

TEST(MessagesApi, StopCancelsAndStoresThePartialAnswer) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.silent_after_first = 1000;  // one token, then the model says nothing more
  h.backend.set_script(script);
  Reply cut = chat.send("start and stall", {}, /*disconnect_after=*/2);
  std::string message_id = cut.sse().events.at(0).json()["message"]["id"];
  ASSERT_TRUE(wait_for_events(h, h.user_id_of("user@example.com"), chat, message_id, 2));

  Reply stopped = h.call_as(chat.token, "POST", chat.base() + message_id + "/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  auto answer = stopped.json()["message"];
  EXPECT_EQ(answer["finish_reason"], "cancelled");
  EXPECT_EQ(answer["status"], "partial");
  EXPECT_EQ(answer["content"], "Hello!");
  EXPECT_GE(h.backend.cancels(), 1);

  auto stored = h.store.all_messages(chat.conversation);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(stored[1].status, MessageStatus::kPartial);
  EXPECT_EQ(stored[1].content, "Hello!");
  EXPECT_EQ(h.store.usage_of(h.user_id_of("user@example.com")).completion_tokens, 1) << "what was produced is billed";

  // The stream ends with the cancellation; stopping again answers the stored message.
  auto events = h.call_as(chat.token, "GET", chat.base() + message_id + "/stream").sse().events;
  EXPECT_EQ(events.back().json()["finish_reason"], "cancelled");
  EXPECT_EQ(h.call_as(chat.token, "POST", chat.base() + message_id + "/stop").json()["message"]["finish_reason"],
            "cancelled");
}

TEST(MessagesApi, DeletingAConversationMidAnswerCancelsItNotLosesIt) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.silent_after_first = 1000;  // one token, then the model says nothing more
  h.backend.set_script(script);
  Reply cut = chat.send("start and stall", {}, /*disconnect_after=*/2);
  std::string message_id = cut.sse().events.at(0).json()["message"]["id"];
  const std::string owner = h.user_id_of("user@example.com");
  ASSERT_TRUE(wait_for_events(h, owner, chat, message_id, 2));
  auto generation = h.hub.find(owner, chat.conversation, message_id);
  ASSERT_TRUE(generation);

  // Another user cannot reach it.
  std::string eve = h.register_user("eve@example.com");
  EXPECT_EQ(h.call_as(eve, "DELETE", "/conversations/" + chat.conversation).status, 404);
  EXPECT_FALSE(generation->finished());

  EXPECT_EQ(h.call_as(chat.token, "DELETE", "/conversations/" + chat.conversation).status, 204);
  ASSERT_TRUE(generation->finished()) << "the delete waits for the answer to end";
  EXPECT_EQ(generation->outcome().assistant_message.finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(generation->outcome().status.is_ok()) << generation->outcome().status.to_string();
  EXPECT_EQ(h.metrics.value(MetricId::kMessagesLost), 0) << "cancelled, not lost";
  EXPECT_TRUE(h.store.all_messages(chat.conversation).empty()) << "no row left behind";
  EXPECT_EQ(h.call_as(chat.token, "GET", "/conversations/" + chat.conversation).status, 404);
  EXPECT_TRUE(h.wait_idle());
}

// An answer another instance is generating: the user message and a 'streaming' assistant row in the
// store, no generation in this hub.
struct RemoteAnswer {
  Message user;
  Message answer;
};

// The user message "question" as another instance stored it (with an idempotency key when given).
Message stored_question(ApiHarness& h, const std::string& owner, const Chat& chat, const std::string& key = "") {
  Message user;
  user.conversation_id = chat.conversation;
  user.role = Role::kUser;
  user.content = "question";
  user.status = MessageStatus::kComplete;
  user.idempotency_key = key;
  user.created_at = h.clock.now();
  return h.store.append_message(owner, user).value().value;
}

// The 'streaming' answer row another instance has checkpointed so far.
Message stored_streaming_answer(ApiHarness& h, const std::string& owner, const Chat& chat, const std::string& text) {
  Message answer;
  answer.conversation_id = chat.conversation;
  answer.role = Role::kAssistant;
  answer.content = text;
  answer.status = MessageStatus::kStreaming;
  answer.created_at = h.clock.now();
  return h.store.append_message(owner, answer).value().value;
}

RemoteAnswer remote_answer(ApiHarness& h, const std::string& owner, const Chat& chat, const std::string& text) {
  Message user = stored_question(h, owner, chat);
  return {user, stored_streaming_answer(h, owner, chat, text)};
}


// Polls until the store has served more than `reads` reads (the follower polled again).
bool wait_for_reads(ApiHarness& h, std::int64_t reads) {
  double deadline = h.clock.now() + 10;
  while (h.store.reads() <= reads) {
    if (h.clock.now() > deadline) return false;
    h.clock.sleep_for(0.001);
  }
  return true;
}

TEST(MessagesApi, ResumeFollowsAnAnswerGeneratedByAnotherInstance) {
  HarnessOptions options;
  options.api.remote_poll_s = 0.005;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  const std::string owner = h.user_id_of("user@example.com");
  RemoteAnswer remote = remote_answer(h, owner, chat, "Hel");
  const std::string id = remote.user.id;

  std::int64_t reads = h.store.reads();
  Reply resumed;
  std::thread follower([&] {
    resumed = h.call_as(chat.token, "GET", chat.base() + id + "/stream", "", {{"Last-Event-ID", id + ":3"}});
  });
  Message m = remote.answer;
  ASSERT_TRUE(wait_for_reads(h, reads + 2));  // the answer found, then the first poll of its row
  m.content = "Hello wor";
  ASSERT_TRUE(h.store.update_message(owner, m).is_ok());
  reads = h.store.reads();
  ASSERT_TRUE(wait_for_reads(h, reads));
  m.content = "Hello world!";
  m.status = MessageStatus::kComplete;
  m.finish_reason = FinishReason::kStop;
  ASSERT_TRUE(h.store.update_message(owner, m).is_ok());
  follower.join();

  ASSERT_EQ(resumed.status, 200) << resumed.body;
  auto events = resumed.sse().events;
  ASSERT_GE(events.size(), 3u) << resumed.body;
  EXPECT_EQ(events.front().id, id + ":4") << "ids go on from Last-Event-ID";
  EXPECT_TRUE(events.front().json().value("replace", false)) << "the first event replaces what the client has";
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(event_number(events[i]), 4 + i);
  EXPECT_EQ(deltas(events), "Hello world!");
  EXPECT_EQ(events.back().event, "done");
  EXPECT_EQ(events.back().json()["finish_reason"], "stop");
}

TEST(MessagesApi, IdempotentRetryJoinsAnAnswerGeneratedByAnotherInstance) {
  HarnessOptions options;
  options.api.remote_poll_s = 0.005;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  const std::string owner = h.user_id_of("user@example.com");
  Message user = stored_question(h, owner, chat, "retry-1");
  Message answer = stored_streaming_answer(h, owner, chat, "Stored so far");

  std::int64_t reads = h.store.reads();
  Reply joined;
  std::thread retry([&] { joined = chat.send("question", {{"Idempotency-Key", "retry-1"}}); });
  ASSERT_TRUE(wait_for_reads(h, reads + 1));
  answer.content = "Stored so far, and the rest.";
  answer.status = MessageStatus::kComplete;
  answer.finish_reason = FinishReason::kStop;
  ASSERT_TRUE(h.store.update_message(owner, answer).is_ok());
  retry.join();

  ASSERT_EQ(joined.status, 200) << joined.body;
  auto events = joined.sse().events;
  ASSERT_GE(events.size(), 3u) << joined.body;
  EXPECT_EQ(events.front().event, "message");
  EXPECT_EQ(events.front().id, user.id + ":1");
  EXPECT_EQ(events.back().event, "done");
  EXPECT_EQ(events.back().json()["finish_reason"], "stop") << joined.body;
  EXPECT_EQ(deltas(events), "Stored so far, and the rest.");
  EXPECT_EQ(h.backend.starts(), 0) << "no second generation";
  EXPECT_EQ(h.store.all_messages(chat.conversation).size(), 2u);
}

TEST(MessagesApi, ResumeWaitsForTheFirstCheckpointOfAnotherInstance) {
  HarnessOptions options;
  options.api.remote_poll_s = 0.005;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  const std::string owner = h.user_id_of("user@example.com");
  Message user = stored_question(h, owner, chat);

  std::int64_t reads = h.store.reads();
  Reply resumed;
  std::thread follower([&] { resumed = h.call_as(chat.token, "GET", chat.base() + user.id + "/stream"); });
  ASSERT_TRUE(wait_for_reads(h, reads + 5));  // still no answer: the follower keeps asking
  Message answer = stored_streaming_answer(h, owner, chat, "First words");
  reads = h.store.reads();
  ASSERT_TRUE(wait_for_reads(h, reads + 1));
  answer.content = "First words, last words.";
  answer.status = MessageStatus::kComplete;
  answer.finish_reason = FinishReason::kStop;
  ASSERT_TRUE(h.store.update_message(owner, answer).is_ok());
  follower.join();

  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(deltas(resumed.sse().events), "First words, last words.");
  EXPECT_EQ(resumed.sse().events.back().json()["finish_reason"], "stop");
}

TEST(MessagesApi, StopOnAnotherInstanceGoesThroughTheStore) {
  HarnessOptions options;
  options.api.remote_poll_s = 0.005;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  const std::string owner = h.user_id_of("user@example.com");
  RemoteAnswer remote = remote_answer(h, owner, chat, "Partial");
  const std::string id = remote.user.id;

  Reply stopped;
  std::thread stopper([&] { stopped = h.call_as(chat.token, "POST", chat.base() + id + "/stop"); });
  double deadline = h.clock.now() + 10;
  while (h.store.stop_requests({id}).value().empty() && h.clock.now() < deadline) h.clock.sleep_for(0.001);
  ASSERT_EQ(h.store.stop_requests({id}).value(), std::vector<std::string>{id}) << "the request is in the store";
  Message m = remote.answer;  // what the owner does when it sees the request
  m.status = MessageStatus::kPartial;
  m.finish_reason = FinishReason::kCancelled;
  ASSERT_TRUE(h.store.update_message(owner, m).is_ok());
  stopper.join();
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(stopped.json()["message"]["finish_reason"], "cancelled");
  EXPECT_EQ(stopped.json()["message"]["content"], "Partial");
}

TEST(MessagesApi, DeletingAConversationStopsItsAnswersOnAnotherInstance) {
  HarnessOptions options;
  options.api.remote_poll_s = 0.005;
  ApiHarness h(options);
  Chat chat = start_chat(h);
  const std::string owner = h.user_id_of("user@example.com");
  RemoteAnswer remote = remote_answer(h, owner, chat, "Half an answ");

  Reply deleted;
  std::thread deleter([&] { deleted = h.call_as(chat.token, "DELETE", "/conversations/" + chat.conversation); });
  double deadline = h.clock.now() + 10;
  while (h.store.stop_requests({remote.user.id}).value().empty() && h.clock.now() < deadline) h.clock.sleep_for(0.001);
  ASSERT_EQ(h.store.stop_requests({remote.user.id}).value().size(), 1u) << "the other instance is asked to stop";
  Message m = remote.answer;  // what the owner does when it sees the request
  m.status = MessageStatus::kPartial;
  m.finish_reason = FinishReason::kCancelled;
  ASSERT_TRUE(h.store.update_message(owner, m).is_ok());
  deleter.join();
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(h.store.all_messages(chat.conversation).empty());
}

TEST(MessagesApi, TheOwnerHonoursStopRequestsFromTheStore) {
  HarnessOptions options;
  options.hub_polls_stops = true;
  options.hub.stop_poll_s = 0.01;
  options.script.silent_after_first = 1000;  // one token, then the model says nothing more
  ApiHarness h(options);
  Chat chat = start_chat(h);
  Reply cut = chat.send("start and stall", {}, /*disconnect_after=*/2);
  std::string message_id = cut.sse().events.at(0).json()["message"]["id"];
  const std::string owner = h.user_id_of("user@example.com");
  ASSERT_TRUE(wait_for_events(h, owner, chat, message_id, 2));
  auto generation = h.hub.find(owner, chat.conversation, message_id);
  ASSERT_TRUE(generation);
  EXPECT_FALSE(generation->wait_finished(h.clock.now() + 0.05)) << "stalled until asked to stop";

  ASSERT_TRUE(h.store.request_stop(owner, chat.conversation, message_id, h.clock.now()).is_ok());  // "instance B"
  ASSERT_TRUE(generation->wait_finished(h.clock.now() + 10));
  EXPECT_EQ(generation->outcome().assistant_message.finish_reason, FinishReason::kCancelled);
  auto stored = h.store.all_messages(chat.conversation);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(stored[1].content, "Hello!");
}

TEST(MessagesApi, HeartbeatsWhileTheModelIsSilent) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.silent_after_first = 0.3;  // six heartbeat intervals of the harness's service config
  h.backend.set_script(script);
  Reply reply = chat.send("think first");
  ASSERT_EQ(reply.status, 200);
  auto stream = reply.sse();
  EXPECT_GE(stream.comments, 1);
  EXPECT_EQ(deltas(stream.events), kReply);
  EXPECT_NE(reply.body.find(": heartbeat\n\n"), std::string::npos);
}

TEST(MessagesApi, FlaggedInputIsRefusedWithCategoriesAndNotBilled) {
  ApiHarness h;
  Chat chat = start_chat(h);
  Reply reply = chat.send("I am going to kill you, you worthless idiot.");
  ASSERT_EQ(reply.status, 400) << reply.body;
  EXPECT_FALSE(reply.streamed);
  auto error = reply.json()["error"];
  ASSERT_TRUE(error["categories"].is_array());
  EXPECT_FALSE(error["categories"].empty());
  EXPECT_TRUE(reply.header("x-ratelimit-remaining-requests").has_value());
  EXPECT_TRUE(h.store.all_messages(chat.conversation).empty()) << "a flagged message is not stored";
  EXPECT_EQ(h.store.usage_of(h.user_id_of("user@example.com")).total(), 0);
  EXPECT_EQ(h.backend.starts(), 0);
}

TEST(MessagesApi, OutputFilteredMidStreamEndsWithContentFilter) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.reply = "Sure thing. I am going to kill you, you worthless idiot. Anything else?";
  h.backend.set_script(script);
  Reply reply = chat.send("say something nasty");
  ASSERT_EQ(reply.status, 200);
  auto events = reply.sse().events;
  auto done = events.back().json();
  EXPECT_EQ(done["finish_reason"], "content_filter");
  EXPECT_EQ(done["status"], "partial");
  EXPECT_FALSE(done["moderation_categories"].empty());
  EXPECT_EQ(deltas(events).find("Anything else?"), std::string::npos) << "the stream stops at the flagged words";
  auto stored = h.store.all_messages(chat.conversation);
  EXPECT_EQ(stored.back().finish_reason, FinishReason::kContentFilter);
}

TEST(MessagesApi, RateLimitedWith429AndRetryAfter) {
  HarnessOptions options;
  options.tiers = {Tier{"free", 2, 1'000'000, 8, 0, 0, 0}};
  ApiHarness h(options);
  Chat chat = start_chat(h);
  ASSERT_EQ(chat.send("one").status, 200);
  ASSERT_EQ(chat.send("two").status, 200);
  Reply limited = chat.send("three");
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_TRUE(limited.header("retry-after").has_value());
  EXPECT_EQ(limited.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(h.store.all_messages(chat.conversation).size(), 4u);
}

TEST(MessagesApi, ShedBackendsAnswer503) {
  ApiHarness h;
  Chat chat = start_chat(h);
  auto script = HarnessOptions::fast_script();
  script.refuse = true;
  h.backend.set_script(script);
  Reply reply = chat.send("anyone there?");
  ASSERT_EQ(reply.status, 503) << reply.body;
  EXPECT_TRUE(reply.header("retry-after").has_value());
  EXPECT_EQ(reply.json()["error"]["type"], "server_overloaded");
}

TEST(MessagesApi, ADisconnectedClientStillGetsItsAnswerStored) {
  ApiHarness h;
  Chat chat = start_chat(h);
  Reply cut = chat.send("answer even if I leave", {}, /*disconnect_after=*/1);
  EXPECT_EQ(cut.sse().events.size(), 1u);
  ASSERT_TRUE(h.wait_idle());
  auto stored = h.store.all_messages(chat.conversation);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].content, kReply);
  EXPECT_EQ(stored[1].status, MessageStatus::kComplete);
}

TEST(MessagesApi, DrainingHubRefusesNewMessages) {
  ApiHarness h;
  Chat chat = start_chat(h);
  h.hub.begin_drain();
  Reply reply = chat.send("too late");
  EXPECT_EQ(reply.status, 503);
  EXPECT_TRUE(h.store.all_messages(chat.conversation).empty());
}

}  // namespace
}  // namespace chatscale::api::test
