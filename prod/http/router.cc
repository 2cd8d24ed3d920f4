#include "prod/http/router.h"

#include <optional>
#include <utility>

#include "prod/http/responses.h"
#include "prod/http/url.h"

namespace chatscale::http {
namespace {

// "/a/b" -> {"a", "b"}; "/" -> {}; "/a/" -> {"a", ""} (a trailing slash is a distinct, empty segment).
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.size() <= 1) return out;
  std::size_t start = 1;
  while (true) {
    std::size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::optional<std::vector<std::string>> decoded_segments(const HttpRequest& request) {
  // Route on the raw target so that an encoded '/' inside a parameter stays inside it.
  std::string_view raw = request.path;
  bool encoded = false;
  if (auto parts = split_target(request.target); parts && !parts->path.empty() && parts->path[0] == '/') {
    raw = parts->path;
    encoded = true;
  }
  std::vector<std::string> out;
  for (std::string_view segment : split_path(raw)) {
    if (!encoded) {
      out.emplace_back(segment);
      continue;
    }
    auto decoded = percent_decode(segment);
    if (!decoded) return std::nullopt;
    out.push_back(std::move(*decoded));
  }
  return out;
}

bool valid_param_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  auto refuse = [&](const std::string& why) {
    if (status_.is_ok()) status_ = invalid_argument("route " + method + " " + pattern + ": " + why);
  };
  if (method.empty()) return refuse("empty method");
  if (pattern.empty() || pattern[0] != '/') return refuse("a pattern starts with '/'");
  if (!handler) return refuse("no handler");
  Route route{method, pattern, {}, std::move(handler)};
  for (std::string_view segment : split_path(pattern)) {
    if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
      std::string_view name = segment.substr(1, segment.size() - 2);
      if (!valid_param_name(name)) return refuse("bad parameter name");
      for (const Segment& s : route.segments)
        if (s.is_param && s.text == name) return refuse("parameter named twice");
      route.segments.push_back({std::string(name), true});
    } else {
      if (segment.find_first_of("{}") != std::string_view::npos) return refuse("a parameter is a whole segment");
      route.segments.push_back({std::string(segment), false});
    }
  }
  for (const Route& existing : routes_) {
    if (existing.method != route.method || existing.segments.size() != route.segments.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < route.segments.size() && same; ++i)
      same = existing.segments[i].is_param == route.segments[i].is_param &&
             (route.segments[i].is_param || existing.segments[i].text == route.segments[i].text);
    if (same) return refuse("already routed as " + existing.pattern);
  }
  routes_.push_back(std::move(route));
}

bool Router::matches(const Route& route, const std::vector<std::string>& segments) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = route.segments[i];
    if (s.is_param ? segments[i].empty() : s.text != segments[i]) return false;
  }
  return true;
}

bool Router::more_specific(const Route& a, const Route& b) {
  for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
  }
  return false;
}

int Router::best_match(const std::vector<std::string>& segments, std::string_view method) const {
  int best = -1;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = routes_[i];
    if (!method.empty() && route.method != method) continue;
    if (!matches(route, segments)) continue;
    if (best < 0 || more_specific(route, routes_[static_cast<std::size_t>(best)])) best = static_cast<int>(i);
  }
  return best;
}

std::string Router::allowed_methods(const std::vector<std::string>& segments) const {
  std::vector<std::string_view> methods;
  auto note = [&](std::string_view m) {
    for (std::string_view seen : methods)
      if (seen == m) return;
    methods.push_back(m);
  };
  for (const Route& route : routes_) {
    if (!matches(route, segments)) continue;
    note(route.method);
    if (route.method == "GET") note("HEAD");
  }
  std::string out;
  for (std::string_view m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

void Router::dispatch(HttpRequest& request, ResponseWriter& writer) const {
  auto segments = decoded_segments(request);
  if (!segments) {
    writer.respond(error_response(invalid_argument("the request path is not valid percent-encoding")));
    return;
  }
  int index = best_match(*segments, request.method);
  if (index < 0 && request.method == "HEAD") index = best_match(*segments, "GET");
  if (index < 0) {
    if (best_match(*segments, "") < 0) {
      writer.respond(error_response(not_found("no route for " + request.method + " " + request.path)));
      return;
    }
    HttpResponse response =
        error_response(405, "method " + request.method + " is not allowed for " + request.path,
                       openai_error_type(StatusCode::kInvalidArgument), "method_not_allowed");
    response.headers.emplace_back("allow", allowed_methods(*segments));
    writer.respond(response);
    return;
  }
  const Route& route = routes_[static_cast<std::size_t>(index)];
  request.params.clear();
  for (std::size_t i = 0; i < route.segments.size(); ++i)
    if (route.segments[i].is_param) request.params[route.segments[i].text] = (*segments)[i];
  route.handler(request, writer);
}

}  // namespace chatscale::http
