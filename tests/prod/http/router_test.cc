// The router, the JSON error shape, target decoding and response-head formatting, without sockets.
#include "prod/http/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "prod/http/http_wire.h"
#include "prod/http/responses.h"
#include "prod/http/url.h"

namespace chatscale::http {
namespace {

// A ResponseWriter that records what the handler did.
class RecordingWriter : public ResponseWriter {
 public:
  bool respond(const HttpResponse& response) override {
    responses.push_back(response);
    started_ = true;
    return true;
  }
  bool begin_stream(const HttpResponse& head) override {
    responses.push_back(head);
    started_ = true;
    return true;
  }
  bool write(std::string_view bytes) override {
    streamed.append(bytes);
    return true;
  }
  void end_stream() override {}
  bool started() const override { return started_; }
  bool client_gone() const override { return false; }

  std::vector<HttpResponse> responses;
  std::string streamed;

 private:
  bool started_ = false;
};

HttpRequest request(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = target;
  auto parts = split_target(target);
  r.path = parts ? percent_decode(parts->path).value_or(std::string(parts->path)) : target;
  return r;
}

// A handler that answers with its name and the bound parameters.
Handler named(std::string name) {
  return [name](HttpRequest& req, ResponseWriter& w) {
    nlohmann::json params = req.params;
    w.respond(json_response(200, {{"route", name}, {"params", params}}));
  };
}

struct Dispatched {
  int status;
  nlohmann::json body;
  HttpResponse response;
};

Dispatched dispatch(const Router& router, std::string method, std::string target) {
  HttpRequest req = request(std::move(method), std::move(target));
  RecordingWriter writer;
  router.dispatch(req, writer);
  EXPECT_EQ(writer.responses.size(), 1u);
  if (writer.responses.empty()) return {0, nullptr, {}};
  const HttpResponse& r = writer.responses.front();
  return {r.status, nlohmann::json::parse(r.body, nullptr, false), r};
}

TEST(RouterTest, BindsParametersOfTheMatchingPattern) {
  Router router;
  router.add("GET", "/conversations/{id}/messages/{message_id}/stream", named("stream"));
  router.add("GET", "/conversations/{id}", named("conversation"));
  ASSERT_TRUE(router.status().is_ok());
  auto d = dispatch(router, "GET", "/conversations/c42/messages/m7/stream");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body["route"], "stream");
  EXPECT_EQ(d.body["params"]["id"], "c42");
  EXPECT_EQ(d.body["params"]["message_id"], "m7");
  d = dispatch(router, "GET", "/conversations/c42?limit=5");
  EXPECT_EQ(d.body["route"], "conversation");
  EXPECT_EQ(d.body["params"]["id"], "c42");
}

TEST(RouterTest, ParametersArePercentDecodedPerSegment) {
  Router router;
  router.add("GET", "/files/{name}/meta", named("file"));
  auto d = dispatch(router, "GET", "/files/a%2Fb%20c/meta");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body["params"]["name"], "a/b c");  // an encoded slash stays inside its segment
  d = dispatch(router, "GET", "/files/bad%zz/meta");
  EXPECT_EQ(d.status, 400);
}

TEST(RouterTest, LiteralSegmentsBeatParameters) {
  Router router;
  router.add("GET", "/conversations/{id}", named("by-id"));
  router.add("GET", "/conversations/search", named("search"));
  EXPECT_EQ(dispatch(router, "GET", "/conversations/search").body["route"], "search");
  EXPECT_EQ(dispatch(router, "GET", "/conversations/other").body["route"], "by-id");
}

TEST(RouterTest, UnknownPathIs404InOpenAiShape) {
  Router router;
  router.add("GET", "/health", named("health"));
  auto d = dispatch(router, "GET", "/nothing/here");
  EXPECT_EQ(d.status, 404);
  ASSERT_TRUE(d.body.contains("error"));
  EXPECT_TRUE(d.body["error"]["message"].is_string());
  EXPECT_EQ(d.body["error"]["type"], std::string(openai_error_type(StatusCode::kNotFound)));
  EXPECT_EQ(d.body["error"]["code"], "not_found");
  EXPECT_EQ(d.response.content_type, "application/json");
  // An empty parameter segment does not match.
  router.add("GET", "/c/{id}", named("c"));
  EXPECT_EQ(dispatch(router, "GET", "/c/").status, 404);
}

TEST(RouterTest, KnownPathWithOtherMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/conversations/{id}", named("get"));
  router.add("DELETE", "/conversations/{id}", named("delete"));
  auto d = dispatch(router, "POST", "/conversations/9");
  EXPECT_EQ(d.status, 405);
  EXPECT_EQ(d.body["error"]["code"], "method_not_allowed");
  std::string allow;
  for (const auto& [name, value] : d.response.headers)
    if (name == "allow") allow = value;
  EXPECT_EQ(allow, "GET, HEAD, DELETE");
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router router;
  router.add("GET", "/health", named("health"));
  EXPECT_EQ(dispatch(router, "HEAD", "/health").status, 200);
}

TEST(RouterTest, InvalidOrDuplicatePatternsAreRefusedAndReported) {
  Router router;
  router.add("GET", "/ok/{id}", named("ok"));
  EXPECT_TRUE(router.status().is_ok());
  router.add("GET", "/ok/{other}", named("dup"));  // same shape as /ok/{id}
  EXPECT_EQ(router.status().code(), StatusCode::kInvalidArgument);
  Router bad;
  bad.add("GET", "no-slash", named("x"));
  EXPECT_FALSE(bad.status().is_ok());
  Router partial;
  partial.add("GET", "/a/x{id}", named("x"));
  EXPECT_FALSE(partial.status().is_ok());
  Router twice;
  twice.add("GET", "/a/{id}/{id}", named("x"));
  EXPECT_FALSE(twice.status().is_ok());
  EXPECT_EQ(twice.size(), 0u);
}

TEST(ResponsesTest, ErrorResponseUsesTheOneMapping) {
  for (StatusCode code : {StatusCode::kInvalidArgument, StatusCode::kUnauthenticated, StatusCode::kNotFound,
                          StatusCode::kRateLimited, StatusCode::kUnavailable, StatusCode::kInternal}) {
    HttpResponse r = error_response(Status(code, "why"));
    EXPECT_EQ(r.status, http_status(code));
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["error"]["message"], "why");
    EXPECT_EQ(body["error"]["type"], std::string(openai_error_type(code)));
  }
  EXPECT_EQ(nlohmann::json::parse(error_response(rate_limited("slow down")).body)["error"]["code"], "rate_limited");
}

TEST(ResponsesTest, PermissionDeniedReadsExactlyLikeNotFound) {
  HttpResponse denied = error_response(permission_denied("conversation 7 does not exist"));
  HttpResponse missing = error_response(not_found("conversation 7 does not exist"));
  EXPECT_EQ(denied.status, 404);
  EXPECT_EQ(denied.body, missing.body);
}

TEST(ResponsesTest, InvalidUtf8DoesNotThrow) {
  HttpResponse r = error_response(invalid_argument(std::string("bad \xff\xfe bytes")));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(nlohmann::json::parse(r.body, nullptr, false).is_discarded());
}

TEST(UrlTest, SplitsDecodesAndParsesQueries) {
  auto parts = split_target("/a/b?x=1&y=two%20words&flag&x=3");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/a/b");
  auto query = parse_query(parts->query);
  EXPECT_EQ(query["x"], "3");
  EXPECT_EQ(query["y"], "two words");
  EXPECT_EQ(query["flag"], "");
  EXPECT_EQ(parse_query("q=a+b")["q"], "a b");
  auto absolute = split_target("http://example.com/v1/x?y=1");
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->path, "/v1/x");
  EXPECT_FALSE(split_target("nonsense"));
  EXPECT_EQ(percent_decode("%41%62c"), "Abc");
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%00"));
  EXPECT_FALSE(percent_decode("%g1"));
}

TEST(WireTest, EventStreamHeadIsChunkedAndUncached) {
  HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("x-request-id", "r1");
  head.headers.emplace_back("content-length", "99");         // the server owns framing
  head.headers.emplace_back("x-evil", "a\r\nset-cookie: b");  // header injection is dropped
  std::string out = wire::format_head(head, wire::Framing::kChunked, 0, true, 11);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(out.find("transfer-encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(out.find("cache-control: no-cache\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-accel-buffering: no\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-request-id: r1\r\n"), std::string::npos);
  EXPECT_NE(out.find("server: chatscale\r\n"), std::string::npos);
  EXPECT_EQ(out.find("content-length"), std::string::npos);
  EXPECT_EQ(out.find("set-cookie"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
  EXPECT_EQ(wire::frame_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(wire::frame_chunk(std::string(26, 'x')).substr(0, 4), "1a\r\n");
}

TEST(WireTest, FullResponseHeadCarriesLengthAndConnection) {
  HttpResponse r = json_response(201, {{"ok", true}});
  std::string out = wire::format_head(r, wire::Framing::kContentLength, r.body.size(), false, 11);
  EXPECT_EQ(out.rfind("HTTP/1.1 201 Created\r\n", 0), 0u);
  EXPECT_NE(out.find("content-length: " + std::to_string(r.body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
  std::string keep10 = wire::format_head(r, wire::Framing::kContentLength, 0, true, 10);
  EXPECT_NE(keep10.find("connection: keep-alive\r\n"), std::string::npos);
  HttpResponse empty;
  empty.status = 204;
  EXPECT_EQ(wire::format_head(empty, wire::Framing::kContentLength, 0, true, 11).find("content-length"),
            std::string::npos);
}

}  // namespace
}  // namespace chatscale::http
