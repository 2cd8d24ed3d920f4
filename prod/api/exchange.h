// One request/response exchange as the handlers see it: authentication (a JWT access token or an API
// key, both as "Authorization: Bearer ..."), the read-your-writes token in and out, the headers every
// response of an authenticated caller carries (x-ratelimit-*), and the JSON / error answers.
//
//   Exchange ex(ctx, request, writer);
//   if (!ex.authenticate()) return;                 // answered 401 (or 503) already
//   CS_ASSIGN... ; ex.json(200, body) / ex.error(status)
//
// Ownership: borrows the context, request and writer for the handler call. Thread-safety: used by the
// handler's task only. Failure behaviour: every failure is answered as a JSON error (the OpenAI shape
// of prod/http/responses.h) with the exchange's headers; nothing throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ports/stores.h"
#include "prod/api/api_context.h"
#include "prod/http/http_types.h"
#include "ratelimit/rate_decision.h"
#include "service/message_service.h"

namespace chatscale::api {

struct Principal {
  std::string user_id;
  std::string tier;
  bool via_api_key = false;
};

// Checks the bearer credentials of `request`: an API key ("cs-...", looked up by its keyed hash, not
// revoked, its user still there) or a JWT access token (signature, expiry, kind). Unauthenticated with
// the reason, or the store's error (Unavailable) when it cannot tell.
Result<Principal> authenticate_request(ApiContext& ctx, const http::HttpRequest& request);

class Exchange {
 public:
  Exchange(ApiContext& ctx, http::HttpRequest& request, http::ResponseWriter& writer)
      : ctx_(ctx), request_(request), writer_(writer) {}

  // Authenticates the caller and (unless told not to) adds their rate-limit headers (a peek: nothing
  // is taken). On failure answers 401 (with WWW-Authenticate) or the store's error and returns false.
  bool authenticate(bool with_rate_headers = true);
  // Adds the caller's current rate-limit headers (a peek), replacing any rate-limit headers already set.
  void peek_rate_headers();
  // Replaces the rate-limit headers (x-ratelimit-*, Retry-After) with `headers`.
  void set_rate_headers(const HttpHeaderList& headers);
  const Principal& principal() const { return principal_; }
  // The caller as the message service sees it, with the request's read-your-writes token.
  Caller caller(const ReadOptions& read) const;

  // The read-your-writes token of the request (x-chatscale-read-token); an empty one reads anywhere.
  Result<ReadOptions> read_options() const;
  // Adds the token for a write that reached `lsn` (no header for lsn 0).
  void add_read_token(Lsn lsn);
  void add_header(std::string name, std::string value) { headers_.emplace_back(std::move(name), std::move(value)); }
  void add_headers(const HttpHeaderList& headers);
  const HttpHeaderList& headers() const { return headers_; }

  // Parses the body as a JSON object; answers 400/413 and returns nullopt when it is not one.
  std::optional<nlohmann::json> json_body();
  // ?cursor=&limit=; answers 400 and returns nullopt for a bad limit.
  std::optional<Page> page();

  void json(int status, const nlohmann::json& body);
  void no_content();
  void error(const Status& status);
  // An error whose body's error object carries extra fields (e.g. "categories").
  void error(const Status& status, const nlohmann::json& extra);

  ApiContext& ctx() { return ctx_; }
  http::HttpRequest& request() { return request_; }
  http::ResponseWriter& writer() { return writer_; }

 private:
  void send(http::HttpResponse response);

  ApiContext& ctx_;
  http::HttpRequest& request_;
  http::ResponseWriter& writer_;
  Principal principal_;
  HttpHeaderList headers_;
};

// Headers for a refused or failed send: the rate-limit headers of its decision, Retry-After for 503.
HttpHeaderList outcome_headers(const SendOutcome& outcome);

}  // namespace chatscale::api
