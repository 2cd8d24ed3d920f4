// The API's routes: each area (auth, conversations, messages, OpenAI-compatible, operations) lists
// its (method, pattern, handler) triples; all_routes() gathers them, each handler wrapped to record
// chatscale_http_requests_total{route,code} and chatscale_http_request_duration_seconds{route} under
// its pattern; add_routes() registers them in the HTTP router. The same list is checked against
// prod/api/openapi.yaml by a test, so the description cannot drift from what is served.
//
// Ownership: handlers capture the ApiContext by reference; it must outlive the router.
// Thread-safety: the lists are built once at start-up; the handlers run concurrently.
#pragma once

#include <string>
#include <vector>

#include "prod/api/api_context.h"
#include "prod/http/http_types.h"
#include "prod/http/router.h"

namespace chatscale::api {

struct Route {
  std::string method;
  std::string pattern;  // the Router's syntax: literal segments and {name} parameters
  http::Handler handler;
};
using Routes = std::vector<Route>;

Routes auth_routes(ApiContext& ctx);
Routes conversation_routes(ApiContext& ctx);
Routes message_routes(ApiContext& ctx);
Routes openai_routes(ApiContext& ctx);
Routes ops_routes(ApiContext& ctx);

// Every route above, instrumented with the HTTP metrics.
Routes all_routes(ApiContext& ctx);
void add_routes(http::Router& router, const Routes& routes);

}  // namespace chatscale::api
