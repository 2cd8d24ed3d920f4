// Request-target handling for the HTTP server and the router: splitting a target into its path and
// query, percent-decoding, and parsing a query string into parameters.
//
// Ownership: values. Thread-safety: pure functions. Failure behaviour: malformed input comes back as
// std::nullopt (the server answers 400); nothing throws.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace chatscale::http {

struct TargetParts {
  std::string_view path;   // raw (still percent-encoded), starts with '/' or is "*"
  std::string_view query;  // raw, without the '?'; empty when absent
};

// Splits an origin-form target ("/a/b?x=1"), an absolute-form one ("http://host/a?x=1": the path is
// taken, "/" when it has none) or "*". Anything else (no leading slash) is nullopt.
std::optional<TargetParts> split_target(std::string_view target);

// Decodes %XX escapes (and '+' as a space when plus_as_space, for query strings). A truncated or
// non-hex escape, or an escape that decodes to NUL, is nullopt.
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space = false);

// "a=1&b=x%20y&c" -> {a: "1", b: "x y", c: ""}; the last of repeated names wins. A part that does not
// decode is kept as sent.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace chatscale::http
