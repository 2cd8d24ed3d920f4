// The shared OpenAI chat-completions wire format: every field read into ChatWireRequest, every bad
// value refused with InvalidArgument naming its `param`, error bodies carrying that param, the
// response builders' shapes, and a seeded fuzz of mutated valid bodies (no crash; ok or 4xx).
#include "prod/api/openai_wire.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "prod/api/json_body.h"

namespace chatscale::api {
namespace {

using nlohmann::json;

json valid_body() {
  return {{"model", "m"},
          {"messages", {{{"role", "system"}, {"content", "Be brief."}},
                        {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Hi "}}, {{"type", "text"}, {"text", "there"}}}}},
                        {{"role", "assistant"}, {"content", nullptr}},
                        {{"role", "user"}, {"content", "again"}, {"name", "bob"}}}},
          {"stream", true},
          {"stream_options", {{"include_usage", true}}},
          {"max_tokens", 50},
          {"temperature", 0.7},
          {"top_p", 0.9},
          {"seed", 42},
          {"stop", {"END", "\n\n"}},
          {"n", 1},
          {"user", "u-1"},
          {"presence_penalty", 0.5},
          {"frequency_penalty", -0.5},
          {"response_format", {{"type", "text"}}},
          {"logprobs", false},
          {"tools", json::array()}};
}

TEST(OpenAiWire, ReadsEveryField) {
  auto r = parse_chat_request(valid_body());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->model, "m");
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[0].role, Role::kSystem);
  EXPECT_EQ(r->messages[1].content, "Hi there");
  EXPECT_EQ(r->messages[2].role, Role::kAssistant);
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->messages[3].content, "again");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->max_tokens, 50);
  EXPECT_DOUBLE_EQ(r->temperature, 0.7);
  EXPECT_DOUBLE_EQ(r->top_p, 0.9);
  ASSERT_TRUE(r->seed.has_value());
  EXPECT_EQ(*r->seed, 42u);
  EXPECT_EQ(r->stop, (std::vector<std::string>{"END", "\n\n"}));
}

TEST(OpenAiWire, DefaultsAndAlternativeForms) {
  json body = {{"model", "m"}, {"messages", {{{"role", "developer"}, {"content", "x"}}}}};
  auto r = parse_chat_request(body);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->max_tokens, 0);
  EXPECT_DOUBLE_EQ(r->temperature, 1.0);
  EXPECT_DOUBLE_EQ(r->top_p, 1.0);
  EXPECT_FALSE(r->seed.has_value());
  EXPECT_TRUE(r->stop.empty());

  body["stop"] = "###";
  body["max_completion_tokens"] = 7;
  body["seed"] = -1;
  body["top_p"] = 1;
  r = parse_chat_request(body);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->stop, std::vector<std::string>{"###"});
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_EQ(*r->seed, ~std::uint64_t{0});
  body["seed"] = 18446744073709551615ULL;
  body["stop"] = nullptr;
  r = parse_chat_request(body);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r->seed, ~std::uint64_t{0});
  EXPECT_TRUE(r->stop.empty());
  body["stop"] = json::array();
  EXPECT_TRUE(parse_chat_request(body).is_ok());

  body.erase("model");
  EXPECT_FALSE(parse_chat_request(body).is_ok());
  ChatWireLimits any_model;
  any_model.require_model = false;
  EXPECT_TRUE(parse_chat_request(body, any_model).is_ok());
}

struct BadCase {
  std::string patch;  // JSON merge patch over the valid body
  std::string param;
};

TEST(OpenAiWire, BadValuesNameTheirParam) {
  const std::vector<BadCase> cases = {
      {R"({"model": 5})", "model"},
      {R"({"model": ""})", "model"},
      {R"({"messages": []})", "messages"},
      {R"({"messages": "hi"})", "messages"},
      {R"({"messages": [5]})", "messages[0]"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "tool", "content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": null}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "a\u0000b"}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "x", "extra": 1}]})", "messages[0].extra"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "text": "x"}]}]})", "messages[0].content[0].type"},
      {R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})", "messages[0].content[0].text"},
      {R"({"messages": [{"role": "user", "content": ["x"]}]})", "messages[0].content[0]"},
      {R"({"stream": "yes"})", "stream"},
      {R"({"stream": false})", "stream_options"},
      {R"({"stream_options": 5})", "stream_options"},
      {R"({"stream_options": {"include_usage": 1}})", "stream_options.include_usage"},
      {R"({"stream_options": {"other": true}})", "stream_options.other"},
      {R"({"max_tokens": 0})", "max_tokens"},
      {R"({"max_tokens": "5"})", "max_tokens"},
      {R"({"max_tokens": 1.5})", "max_tokens"},
      {R"({"max_completion_tokens": -1})", "max_completion_tokens"},
      {R"({"temperature": 2.5})", "temperature"},
      {R"({"temperature": -0.1})", "temperature"},
      {R"({"temperature": "hot"})", "temperature"},
      {R"({"top_p": 0})", "top_p"},
      {R"({"top_p": 1.01})", "top_p"},
      {R"({"top_p": "all"})", "top_p"},
      {R"({"seed": 1.5})", "seed"},
      {R"({"seed": "7"})", "seed"},
      {R"({"stop": 5})", "stop"},
      {R"({"stop": ""})", "stop"},
      {R"({"stop": ["a", "b", "c", "d", "e"]})", "stop"},
      {R"({"stop": ["a", 5]})", "stop[1]"},
      {R"({"stop": ["a", ""]})", "stop[1]"},
      {R"({"n": 2})", "n"},
      {R"({"n": 0})", "n"},
      {R"({"n": "1"})", "n"},
      {R"({"user": 5})", "user"},
      {R"({"presence_penalty": 3})", "presence_penalty"},
      {R"({"frequency_penalty": -3})", "frequency_penalty"},
      {R"({"logprobs": true})", "logprobs"},
      {R"({"tools": [{"type": "function"}]})", "tools"},
      {R"({"logit_bias": {"50256": -100}})", "logit_bias"},
      {R"({"response_format": {"type": "json_object"}})", "response_format"},
      {R"({"response_format": {"type": 5}})", "response_format"},
      {R"({"response_format": "text"})", "response_format"},
      {R"({"frobnicate": 1})", "frobnicate"},
  };
  for (const BadCase& c : cases) {
    json body = valid_body();
    body.merge_patch(json::parse(c.patch));
    auto r = parse_chat_request(body);
    ASSERT_FALSE(r.is_ok()) << c.patch;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.patch;
    EXPECT_EQ(error_param(r.status()), c.param) << c.patch << ": " << r.status().message();
    json error = error_body(r.status());
    EXPECT_EQ(error["error"]["param"], c.param) << error.dump();
    EXPECT_EQ(http_status(r.status().code()), 400);
  }
  // A stop string of 65 bytes.
  json body = valid_body();
  body["stop"] = std::string(65, 'x');
  auto r = parse_chat_request(body);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(error_param(r.status()), "stop");
  body["stop"] = std::string(64, 'x');
  EXPECT_TRUE(parse_chat_request(body).is_ok());
  // max_tokens beyond the limit.
  ChatWireLimits small;
  small.max_tokens = 100;
  body["max_tokens"] = 101;
  EXPECT_EQ(error_param(parse_chat_request(body, small).status()), "max_tokens");
  small.max_messages = 2;
  body["max_tokens"] = 5;
  EXPECT_EQ(error_param(parse_chat_request(body, small).status()), "messages");
}

TEST(OpenAiWire, ErrorBodies) {
  json e = error_body(not_found("model_not_found: the model \"x\" does not exist"));
  EXPECT_EQ(e["error"]["param"], "model");
  EXPECT_EQ(e["error"]["code"], "model_not_found");
  e = error_body(invalid_argument("context_length_exceeded: too long"));
  EXPECT_EQ(e["error"]["param"], "messages");
  EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
  e = error_body(unavailable("engine: full"));
  EXPECT_TRUE(e["error"]["param"].is_null());
  e = error_body(invalid_argument("prompt of 5 tokens exceeds the context of 4 tokens"));
  EXPECT_TRUE(e["error"]["param"].is_null()) << e.dump();
  e = error_body(invalid_argument("x: flagged"), "content_policy_violation");
  EXPECT_EQ(e["error"]["code"], "content_policy_violation");
  EXPECT_TRUE(e["error"].contains("message") && e["error"].contains("type"));
}

json sse_json(const std::string& event) {
  EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
  return json::parse(event.substr(6));
}

TEST(OpenAiWire, ResponseBuilders) {
  const std::string id = completion_id();
  EXPECT_EQ(id.size(), 9u + 24u);
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
  EXPECT_NE(completion_id(), id);
  CompletionFormat f(id, 1700000000, "m", /*include_usage=*/true);
  json role = sse_json(f.role_chunk());
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["id"], id);
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(role.contains("usage") && role["usage"].is_null());
  EXPECT_EQ(sse_json(f.delta_chunk("hé"))["choices"][0]["delta"]["content"], "hé");
  EXPECT_EQ(sse_json(f.finish_chunk(FinishReason::kLength))["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(sse_json(f.finish_chunk(FinishReason::kStop))["choices"][0]["finish_reason"], "stop");
  json usage = sse_json(f.usage_chunk(Usage{3, 4}));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
  json whole = f.completion("hello", FinishReason::kContentFilter, Usage{1, 2});
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "hello");
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "content_filter");
  EXPECT_EQ(whole["usage"]["prompt_tokens"], 1);
  CompletionFormat plain(id, 1, "m", false);
  EXPECT_FALSE(sse_json(plain.delta_chunk("x")).contains("usage"));
}

// One random JSON value of any type.
json random_value(std::mt19937_64& rng) {
  switch (rng() % 9) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<std::int64_t>(rng() % 2000) - 1000;
    case 3: return static_cast<double>(rng() % 1000) / 250.0 - 1.0;
    case 4: return std::string(rng() % 80, static_cast<char>('a' + rng() % 26));
    case 5: return json::array({"x", static_cast<std::int64_t>(rng() % 5)});
    case 6: return json::object({{"type", "text"}, {"text", "t"}});
    case 7: return json::array();
    default: return rng();
  }
}

// Replaces, deletes or adds one value somewhere in the body.
void mutate(json& node, std::mt19937_64& rng, int depth) {
  if ((node.is_object() || node.is_array()) && !node.empty() && depth < 4 && rng() % 3 != 0) {
    auto it = node.begin();
    std::advance(it, static_cast<long>(rng() % node.size()));
    return mutate(*it, rng, depth + 1);
  }
  if (node.is_object() && rng() % 2 == 0) {
    if (!node.empty() && rng() % 2 == 0) node.erase(node.begin());
    else node[std::string(1, static_cast<char>('a' + rng() % 26))] = random_value(rng);
    return;
  }
  node = random_value(rng);
}

TEST(OpenAiWire, FuzzedBodiesAreOkOr4xx) {
  std::mt19937_64 rng(20261128);
  const std::string base = valid_body().dump();
  int ok = 0, refused = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string text;
    if (i % 4 == 0) {  // byte-level: flip, cut or duplicate bytes of the serialised body
      text = base;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n && !text.empty(); ++k) {
        std::size_t at = rng() % text.size();
        switch (rng() % 3) {
          case 0: text[at] = static_cast<char>(rng() % 256); break;
          case 1: text.erase(at, 1 + rng() % 8); break;
          default: text.insert(at, text.substr(at, 1 + rng() % 8)); break;
        }
      }
    } else {
      json body = valid_body();
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) mutate(body, rng, 0);
      text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    auto parsed = parse_json_object(text, 1 << 20);
    if (!parsed.is_ok()) {
      EXPECT_GE(http_status(parsed.status().code()), 400);
      EXPECT_LT(http_status(parsed.status().code()), 500);
      ++refused;
      continue;
    }
    auto r = parse_chat_request(*parsed);
    if (r.is_ok()) {
      ++ok;
      EXPECT_FALSE(r->messages.empty());
      EXPECT_LE(r->stop.size(), 4u);
      EXPECT_TRUE(r->top_p > 0 && r->top_p <= 1);
      continue;
    }
    ++refused;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    // Structured mutations keep keys plain, so every refusal names a param (byte mutations can make
    // keys that are no field path).
    if (i % 4 != 0) {
      EXPECT_FALSE(error_param(r.status()).empty()) << r.status().message();
    }
  }
  EXPECT_GT(ok, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace chatscale::api
