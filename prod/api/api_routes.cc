#include "prod/api/api_routes.h"

#include <exception>
#include <utility>

#include "metrics/catalogue.h"

namespace chatscale::api {
namespace {

// Forwards to the server's writer and remembers the status the handler answered with.
class MeasuredWriter : public http::ResponseWriter {
 public:
  explicit MeasuredWriter(http::ResponseWriter& inner) : inner_(inner) {}
  bool respond(const http::HttpResponse& response) override {
    status_ = response.status;
    return inner_.respond(response);
  }
  bool begin_stream(const http::HttpResponse& head) override {
    status_ = head.status;
    return inner_.begin_stream(head);
  }
  bool write(std::string_view bytes) override { return inner_.write(bytes); }
  void end_stream() override { inner_.end_stream(); }
  bool started() const override { return inner_.started(); }
  bool client_gone() const override { return inner_.client_gone(); }
  int status() const { return status_; }

 private:
  http::ResponseWriter& inner_;
  int status_ = 0;
};

http::Handler instrument(ApiContext& ctx, std::string route, http::Handler handler) {
  return [&ctx, route = std::move(route), handler = std::move(handler)](http::HttpRequest& request,
                                                                        http::ResponseWriter& writer) {
    MeasuredWriter measured(writer);
    double start = ctx.clock.now();
    auto record = [&](int status) {
      ctx.metrics.add(MetricId::kHttpRequests, {route, std::to_string(status)}, 1);
      ctx.metrics.observe(MetricId::kHttpRequestDuration, {route}, ctx.clock.now() - start);
    };
    try {
      handler(request, measured);
    } catch (...) {  // the server answers 500 (or cuts the stream); count it, and let it do so
      record(measured.status() == 0 ? 500 : measured.status());
      throw;
    }
    record(measured.status() == 0 ? 500 : measured.status());
  };
}

}  // namespace

Routes all_routes(ApiContext& ctx) {
  Routes routes;
  for (auto* area : {&auth_routes, &conversation_routes, &message_routes, &openai_routes, &ops_routes})
    for (auto& route : (*area)(ctx)) routes.push_back(std::move(route));
  for (auto& route : routes) route.handler = instrument(ctx, route.method + " " + route.pattern, std::move(route.handler));
  return routes;
}

void add_routes(http::Router& router, const Routes& routes) {
  for (const auto& route : routes) router.add(route.method, route.pattern, route.handler);
}

}  // namespace chatscale::api
