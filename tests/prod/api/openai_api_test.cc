// The OpenAI-compatible endpoint through the real route: exact response and chunk shapes, errors in
// OpenAI's shape, and the same rate limiter, moderation, backends and billing as the conversation API.
#include <gtest/gtest.h>

#include <set>

#include "api_test_support.h"

namespace chatscale::api::test {
namespace {

const std::string kReply = "Hello! This is a deterministic answer from the fake backend.";

std::set<std::string> keys(const nlohmann::json& object) {
  std::set<std::string> out;
  for (const auto& [key, value] : object.items()) out.insert(key);
  return out;
}

std::string chat_body(bool stream, bool include_usage = false, const std::string& last = "Hi there") {
  nlohmann::json body = {{"model", "test-model"},
                         {"messages",
                          {{{"role", "system"}, {"content", "Be brief."}},
                           {{"role", "user"}, {"content", "Earlier question"}},
                           {{"role", "assistant"}, {"content", "Earlier answer"}},
                           {{"role", "user"}, {"content", last}}}}};
  if (stream) body["stream"] = true;
  if (include_usage) body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

// The data: payloads of an OpenAI stream.
std::vector<std::string> data_lines(const Reply& reply) {
  std::vector<std::string> out;
  for (const auto& e : reply.sse().events) out.push_back(e.data);
  return out;
}

TEST(OpenAiApi, ModelsListsTheServedModel) {
  ApiHarness h;
  std::string token = h.register_user("models@example.com");
  Reply reply = h.call_as(token, "GET", "/v1/models");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json(), (nlohmann::json{{"object", "list"},
                                          {"data", {{{"id", "test-model"}, {"object", "model"}, {"created", 0},
                                                     {"owned_by", "chatscale"}}}}}));
  EXPECT_EQ(h.call("GET", "/v1/models").status, 401);
}

TEST(OpenAiApi, NonStreamedCompletionHasOpenAisShape) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  Reply reply = h.call_as(token, "POST", "/v1/chat/completions", chat_body(false));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = reply.json();
  EXPECT_EQ(keys(body), (std::set<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_TRUE(body["created"].is_number_integer());
  EXPECT_EQ(body["model"], "test-model");
  ASSERT_EQ(body["choices"].size(), 1u);
  auto choice = body["choices"][0];
  EXPECT_EQ(keys(choice), (std::set<std::string>{"index", "message", "finish_reason"}));
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"], (nlohmann::json{{"role", "assistant"}, {"content", kReply}}));
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(keys(body["usage"]), (std::set<std::string>{"prompt_tokens", "completion_tokens", "total_tokens"}));
  EXPECT_EQ(body["usage"]["completion_tokens"], 10);
  EXPECT_TRUE(reply.header("x-ratelimit-remaining-tokens").has_value());

  // The caller's turns reach the model as sent, without a server system prompt.
  const auto& sent = h.backend.last_request().messages;
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[0].role, Role::kSystem);
  EXPECT_EQ(sent[0].content, "Be brief.");
  EXPECT_EQ(sent[2].role, Role::kAssistant);
  EXPECT_EQ(sent[3].content, "Hi there");
  // Billed like any message; nothing of the conversation kept.
  EXPECT_EQ(h.store.usage_of(h.user_id_of("oa@example.com")).completion_tokens, 10);
  EXPECT_EQ(h.completions.store().size(), 0u);
}

TEST(OpenAiApi, StreamedChunksWithUsage) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  Reply reply = h.call_as(token, "POST", "/v1/chat/completions", chat_body(true, true));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("content-type").value_or("").rfind("text/event-stream", 0), 0u);
  auto lines = data_lines(reply);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.back(), "[DONE]");
  for (const auto& e : reply.sse().events) EXPECT_TRUE(e.id.empty() && e.event.empty()) << "plain data: lines";

  std::string id, content;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto chunk = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(keys(chunk), (std::set<std::string>{"id", "object", "created", "model", "choices", "usage"})) << lines[i];
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["model"], "test-model");
    if (id.empty()) id = chunk["id"];
    EXPECT_EQ(chunk["id"], id) << "one id for the whole stream";
    bool last = i + 2 == lines.size();
    if (last) {  // the usage chunk
      EXPECT_EQ(chunk["choices"], nlohmann::json::array());
      EXPECT_EQ(chunk["usage"]["completion_tokens"], 10);
      EXPECT_EQ(chunk["usage"]["total_tokens"],
                chunk["usage"]["prompt_tokens"].get<int>() + chunk["usage"]["completion_tokens"].get<int>());
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    ASSERT_EQ(chunk["choices"].size(), 1u);
    auto choice = chunk["choices"][0];
    EXPECT_EQ(keys(choice), (std::set<std::string>{"index", "delta", "finish_reason"}));
    if (i == 0) {
      EXPECT_EQ(choice["delta"], (nlohmann::json{{"role", "assistant"}, {"content", ""}}));
    }
    bool finishing = i + 3 == lines.size();
    if (finishing) {
      EXPECT_EQ(choice["delta"], nlohmann::json::object());
      EXPECT_EQ(choice["finish_reason"], "stop");
    } else {
      EXPECT_TRUE(choice["finish_reason"].is_null());
      if (i > 0) content += choice["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(content, kReply);
}

TEST(OpenAiApi, StreamWithoutUsageHasNoUsageField) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  Reply reply = h.call_as(token, "POST", "/v1/chat/completions", chat_body(true));
  auto lines = data_lines(reply);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.back(), "[DONE]");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto chunk = nlohmann::json::parse(lines[i]);
    EXPECT_FALSE(chunk.contains("usage"));
    EXPECT_EQ(chunk["choices"].size(), 1u) << "no usage chunk";
  }
  EXPECT_EQ(nlohmann::json::parse(lines[lines.size() - 2])["choices"][0]["finish_reason"], "stop");
}

TEST(OpenAiApi, ErrorsHaveOpenAisShape) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  auto expect_error = [&](const std::string& body, int status, const std::string& code) {
    Reply reply = h.call_as(token, "POST", "/v1/chat/completions", body);
    EXPECT_EQ(reply.status, status) << body << ": " << reply.body;
    auto error = reply.json()["error"];
    EXPECT_TRUE(error.contains("message") && error.contains("type") && error.contains("param") && error.contains("code"))
        << reply.body;
    if (!code.empty()) {
      EXPECT_EQ(error["code"], code) << reply.body;
    }
  };
  nlohmann::json wrong_model = nlohmann::json::parse(chat_body(false));
  wrong_model["model"] = "gpt-4o";
  expect_error(wrong_model.dump(), 404, "model_not_found");
  expect_error("{\"model\": \"test-model\", ", 400, "");
  expect_error(R"({"model": "test-model"})", 400, "");
  expect_error(R"({"model": "test-model", "messages": []})", 400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "assistant", "content": "hi"}]})", 400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "tool", "content": "x"}]})", 400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "user", "content": 5}]})", 400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "n": 2})", 400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]})",
               400, "");
  expect_error(R"({"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "frobnicate": 1})", 400, "");
  Reply bad_stop = h.call_as(token, "POST", "/v1/chat/completions",
                             R"({"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", ""]})");
  EXPECT_EQ(bad_stop.status, 400);
  EXPECT_EQ(bad_stop.json()["error"]["param"], "stop[1]") << bad_stop.body;
  expect_error(R"({"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": true}})",
               400, "");
  expect_error(nlohmann::json{{"model", "test-model"}, {"messages", {{{"role", "user"}, {"content", std::string(20000, 'a')}}}}, {"max_tokens", 4000}}.dump(),
               400, "context_length_exceeded");
  EXPECT_EQ(h.backend.starts(), 0);
  EXPECT_EQ(h.call("POST", "/v1/chat/completions", chat_body(false)).status, 401);
}

TEST(OpenAiApi, AcceptsTextPartsAndHarmlessOptions) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  nlohmann::json body = {{"model", "test-model"},
                         {"messages", {{{"role", "developer"}, {"content", "Rules."}},
                                       {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Part one, "}},
                                                                       {{"type", "text"}, {"text", "part two."}}}}}}},
                         {"temperature", 0.2}, {"top_p", 0.9}, {"max_completion_tokens", 3}, {"user", "u-42"},
                         {"seed", 7}, {"stop", nullptr}, {"presence_penalty", 0}};
  Reply reply = h.call_as(token, "POST", "/v1/chat/completions", body.dump());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json()["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(reply.json()["usage"]["completion_tokens"], 3);
  EXPECT_EQ(h.backend.last_request().messages.back().content, "Part one, part two.");
  EXPECT_EQ(h.backend.last_request().messages.front().role, Role::kSystem);
  // The sampling options reach the backend.
  EXPECT_DOUBLE_EQ(h.backend.last_request().top_p, 0.9);
  EXPECT_EQ(h.backend.last_request().seed, std::optional<std::uint64_t>(7));
  EXPECT_TRUE(h.backend.last_request().stop.empty());
  body["stop"] = {"END", "\n\n"};
  body.erase("seed");
  ASSERT_EQ(h.call_as(token, "POST", "/v1/chat/completions", body.dump()).status, 200);
  EXPECT_EQ(h.backend.last_request().stop, (std::vector<std::string>{"END", "\n\n"}));
  EXPECT_FALSE(h.backend.last_request().seed.has_value());
}

TEST(OpenAiApi, SharesModerationRateLimitsAndApiKeys) {
  HarnessOptions options;
  options.tiers = {Tier{"free", 2, 1'000'000, 8, 0, 0, 0}};
  ApiHarness h(options);
  std::string token = h.register_user("oa@example.com");
  Reply key = h.call_as(token, "POST", "/me/api-keys", R"({"name": "sdk"})");
  std::string api_key = key.json()["key"];

  Reply flagged = h.call_as(api_key, "POST", "/v1/chat/completions",
                            chat_body(false, false, "I am going to kill you, you worthless idiot."));
  ASSERT_EQ(flagged.status, 400) << flagged.body;
  EXPECT_EQ(flagged.json()["error"]["code"], "content_policy_violation");
  EXPECT_FALSE(flagged.json()["error"]["categories"].empty());
  EXPECT_EQ(h.store.usage_of(h.user_id_of("oa@example.com")).total(), 0);

  // The flagged request took one of the two requests per minute; a conversation message the other.
  std::string conversation = h.create_conversation(token);
  ASSERT_EQ(h.call_as(token, "POST", "/conversations/" + conversation + "/messages", R"({"content": "hi"})").status, 200);
  Reply limited = h.call_as(api_key, "POST", "/v1/chat/completions", chat_body(false));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(limited.header("retry-after").has_value());
}

TEST(OpenAiApi, AClientThatLeavesCancelsItsCompletion) {
  ApiHarness h;
  std::string token = h.register_user("oa@example.com");
  auto script = HarnessOptions::fast_script();
  script.token_interval = 0.05;
  h.backend.set_script(script);
  Reply cut = h.call_as(token, "POST", "/v1/chat/completions", chat_body(true), {}, /*disconnect_after=*/2);
  EXPECT_EQ(cut.status, 200);
  EXPECT_GE(h.backend.cancels(), 1);
  auto usage = h.store.usage_of(h.user_id_of("oa@example.com"));
  EXPECT_LT(usage.completion_tokens, 10) << "generation stopped early";
  EXPECT_EQ(h.completions.store().size(), 0u);
}

}  // namespace
}  // namespace chatscale::api::test
