#include "prod/http/url.h"

namespace chatscale::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode_or_raw(std::string_view part) {
  auto decoded = percent_decode(part, true);
  return decoded ? std::move(*decoded) : std::string(part);
}

}  // namespace

std::optional<TargetParts> split_target(std::string_view target) {
  if (target == "*") return TargetParts{target, {}};
  if (target.empty()) return std::nullopt;
  if (target.front() != '/') {
    // Absolute form: scheme "://" authority, then the path (RFC 9112 3.2.2).
    std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
    std::size_t path_start = target.find_first_of("/?", scheme_end + 3);
    if (path_start == std::string_view::npos) return TargetParts{"/", {}};
    if (target[path_start] == '?') return TargetParts{"/", target.substr(path_start + 1)};
    target = target.substr(path_start);
  }
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return TargetParts{target, {}};
  return TargetParts{target.substr(0, q), target.substr(q + 1)};
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string name = decode_or_raw(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : decode_or_raw(part.substr(eq + 1));
    out[std::move(name)] = std::move(value);
  }
  return out;
}

}  // namespace chatscale::http
