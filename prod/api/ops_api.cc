// Operations: liveness (/healthz: the process answers), readiness (/readyz: the database answers and
// at least one inference backend is healthy, else 503 with the reason) and the Prometheus exposition
// (/metrics, text format 0.0.4). None needs credentials: they are for load balancers and scrapers
// (keep the port off the public internet, or filter these paths at the proxy).
#include "prod/api/api_routes.h"
#include "prod/api/exchange.h"
#include "prod/http/responses.h"

namespace chatscale::api {

Routes ops_routes(ApiContext& ctx) {
  ApiContext* c = &ctx;
  return {
      {"GET", "/healthz",
       [](http::HttpRequest&, http::ResponseWriter& writer) {
         writer.respond(http::json_response(200, {{"status", "ok"}}));
       }},
      {"GET", "/readyz",
       [c](http::HttpRequest&, http::ResponseWriter& writer) {
         Status ready = c->readiness ? c->readiness() : Status::ok();
         if (ready.is_ok()) {
           writer.respond(http::json_response(200, {{"status", "ready"}}));
           return;
         }
         writer.respond(http::json_response(503, {{"status", "not ready"}, {"reason", ready.message()}}));
       }},
      {"GET", "/metrics",
       [c](http::HttpRequest&, http::ResponseWriter& writer) {
         http::HttpResponse response;
         response.content_type = "text/plain; version=0.0.4; charset=utf-8";
         response.body = c->metrics_text ? c->metrics_text() : std::string();
         writer.respond(response);
       }},
  };
}

}  // namespace chatscale::api
