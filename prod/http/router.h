// Routes requests to handlers by method and path pattern. A pattern is a path whose segments are
// literals or `{name}` parameters that match one whole, non-empty segment:
//   router.add("GET", "/conversations/{id}/messages/{message_id}/stream", handler);
// dispatch() percent-decodes each segment of the request path, binds the parameters into
// request.params and calls the handler. When several patterns match, the most specific wins (a literal
// segment beats a parameter, comparing from the left). HEAD falls back to the GET route (the server
// sends no body for HEAD). Unmatched paths answer 404, matched paths with another method 405 with an
// `Allow` header, a path that does not decode 400; all as JSON errors (prod/http/responses.h).
//
// Ownership: owns its handlers. Thread-safety: add() before the server starts; dispatch() is const
// and safe from many tasks at once. Failure behaviour: add() never throws; an invalid pattern or a
// duplicate (method, pattern) is not added and is kept as the router's status(), which
// HttpServer::start() reports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "prod/http/http_types.h"

namespace chatscale::http {

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  // Routes the request and runs the handler (or answers 400/404/405 itself) on `writer`.
  void dispatch(HttpRequest& request, ResponseWriter& writer) const;

  // OK, or the first add() that was refused.
  const Status& status() const { return status_; }
  std::size_t size() const { return routes_.size(); }

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter name
    bool is_param = false;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };

  // Index of the best route matching `segments` for `method` ("" = any method), or -1.
  int best_match(const std::vector<std::string>& segments, std::string_view method) const;
  static bool matches(const Route& route, const std::vector<std::string>& segments);
  static bool more_specific(const Route& a, const Route& b);
  std::string allowed_methods(const std::vector<std::string>& segments) const;

  std::vector<Route> routes_;
  Status status_;
};

}  // namespace chatscale::http
