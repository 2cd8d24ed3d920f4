#include "prod/http/http_types.h"

#include <algorithm>
#include <cctype>

namespace chatscale::http {

std::optional<std::string_view> HttpRequest::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name.size() == lower_case_name.size() &&
        std::equal(name.begin(), name.end(), lower_case_name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return std::string_view(value);
  }
  return std::nullopt;
}

std::string HttpRequest::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string sse_event(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!id.empty()) out.append("id: ").append(id).append("\n");
  if (!event.empty()) out.append("event: ").append(event).append("\n");
  // Every line of the data gets its own "data:" field; CR, LF and CRLF all end a line.
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end == std::string_view::npos ? end : end - start)).append("\n");
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out.append("\n");
  return out;
}

std::string sse_comment(std::string_view text) {
  std::string out = ": ";
  for (char c : text) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  out.append("\n\n");
  return out;
}

}  // namespace chatscale::http
