#include "prod/api/exchange.h"

#include <charconv>

#include "prod/api/api_json.h"
#include "prod/api/json_body.h"
#include "prod/http/responses.h"
#include "replica/read_token.h"

namespace chatscale::api {
namespace {

// A key created moments ago is found through the caller's read-your-writes token (sent back from the
// creation); without one, a replica within its lag may not know the key yet.
Result<Principal> authenticate_api_key(ApiContext& ctx, const std::string& key, const ReadOptions& read) {
  auto stored = ctx.stores.api_keys.find_api_key(ctx.api_key_hasher.hash(key), read);
  if (!stored.is_ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return unauthenticated("invalid API key");
    return stored.status();
  }
  if (stored->revoked_at > 0) return unauthenticated("the API key was revoked");
  auto user = ctx.stores.users.find_user(stored->user_id, read);
  if (!user.is_ok()) {
    if (user.status().code() == StatusCode::kNotFound) return unauthenticated("the API key's account no longer exists");
    return user.status();
  }
  return Principal{user->id, user->tier, true};
}

}  // namespace

Result<Principal> authenticate_request(ApiContext& ctx, const http::HttpRequest& request) {
  auto header = request.header("authorization");
  if (!header) return unauthenticated("missing credentials: send Authorization: Bearer <access token or API key>");
  CS_ASSIGN_OR_RETURN(std::string token, bearer_token(*header));
  if (is_api_key_format(token)) {
    ReadOptions read;
    if (auto token_header = request.header(kReadTokenHeader); token_header && !token_header->empty()) {
      if (auto decoded = decode_read_token(*token_header); decoded.is_ok())
        read = ReadOptions{decoded->lsn, decoded->issued_at, false};
    }
    return authenticate_api_key(ctx, token, read);
  }
  CS_ASSIGN_OR_RETURN(Claims claims, ctx.jwt.verify(token, ctx.clock.now(), kAccessToken));
  return Principal{claims.sub, claims.tier.empty() ? "free" : claims.tier, false};
}

bool Exchange::authenticate(bool with_rate_headers) {
  auto principal = authenticate_request(ctx_, request_);
  if (!principal.is_ok()) {
    if (principal.status().code() == StatusCode::kUnauthenticated)
      add_header("www-authenticate", "Bearer realm=\"chatscale\"");
    error(principal.status());
    return false;
  }
  principal_ = std::move(principal).value();
  if (with_rate_headers) peek_rate_headers();
  return true;
}

void Exchange::peek_rate_headers() {
  // Headroom for every response; a limiter that cannot answer costs the headers, not the request.
  auto decision = ctx_.rate_limiter.peek(principal_.user_id, principal_.tier, ctx_.clock.now());
  if (decision.is_ok()) set_rate_headers(rate_limit_headers(*decision));
}

void Exchange::set_rate_headers(const HttpHeaderList& headers) {
  std::erase_if(headers_, [](const auto& header) {
    return header.first.rfind("x-ratelimit-", 0) == 0 || header.first == "Retry-After" || header.first == "retry-after";
  });
  add_headers(headers);
}

Caller Exchange::caller(const ReadOptions& read) const {
  Caller caller;
  caller.user_id = principal_.user_id;
  caller.tier = principal_.tier;
  caller.read_lsn = read.min_lsn;
  caller.read_token_issued_at = read.token_issued_at;
  return caller;
}

Result<ReadOptions> Exchange::read_options() const {
  ReadOptions read;
  auto header = request_.header(kReadTokenHeader);
  if (!header || header->empty()) return read;
  auto token = decode_read_token(*header);
  if (!token.is_ok()) return invalid_argument(std::string(kReadTokenHeader) + ": " + token.status().message());
  read.min_lsn = token->lsn;
  read.token_issued_at = token->issued_at;
  return read;
}

void Exchange::add_read_token(Lsn lsn) {
  if (lsn == 0) return;
  add_header(std::string(kReadTokenHeader), encode_read_token(ReadToken{lsn, ctx_.clock.now()}));
}

void Exchange::add_headers(const HttpHeaderList& headers) {
  for (const auto& header : headers) headers_.push_back(header);
}

std::optional<nlohmann::json> Exchange::json_body() {
  auto body = parse_json_object(request_.body, ctx_.options.max_body_bytes);
  if (!body.is_ok()) {
    error(body.status());
    return std::nullopt;
  }
  return std::move(body).value();
}

std::optional<Page> Exchange::page() {
  Page page;
  page.limit = ctx_.options.default_page_size;
  auto limit = request_.query.find("limit");
  if (limit != request_.query.end()) {
    const std::string& text = limit->second;
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1 ||
        value > ctx_.options.max_page_size) {
      error(invalid_argument("limit: must be an integer between 1 and " + std::to_string(ctx_.options.max_page_size)));
      return std::nullopt;
    }
    page.limit = value;
  }
  auto cursor = request_.query.find("cursor");
  if (cursor != request_.query.end()) {
    if (cursor->second.size() > 512 || contains_nul(cursor->second)) {
      error(invalid_argument("cursor: not a cursor this server issued"));
      return std::nullopt;
    }
    page.cursor = cursor->second;
  }
  return page;
}

void Exchange::send(http::HttpResponse response) {
  for (auto& header : headers_) response.headers.push_back(header);
  writer_.respond(response);
}

void Exchange::json(int status, const nlohmann::json& body) { send(http::json_response(status, body)); }

void Exchange::no_content() {
  http::HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  send(std::move(response));
}

void Exchange::error(const Status& status) { send(http::error_response(status)); }

void Exchange::error(const Status& status, const nlohmann::json& extra) {
  nlohmann::json body = {{"error", error_object(status)}};
  for (const auto& [key, value] : extra.items()) body["error"][key] = value;
  send(http::json_response(http_status(status.code()), body));
}

HttpHeaderList outcome_headers(const SendOutcome& outcome) {
  HttpHeaderList headers;
  if (outcome.rate) headers = rate_limit_headers(*outcome.rate);
  if (outcome.status.code() == StatusCode::kUnavailable) {
    bool has_retry = false;
    for (const auto& header : headers) has_retry = has_retry || header.first == "Retry-After";
    if (!has_retry) headers.emplace_back("retry-after", "1");
  }
  return headers;
}

}  // namespace chatscale::api
