#include "service/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace chatscale {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

std::string StopMatcher::feed(std::string_view delta) {
  if (stopped_) return {};
  if (!active()) return std::string(delta);
  // held_ never holds a whole stop string (it would have matched): search it with the delta.
  held_.append(delta);
  // The stop that completes first wins (ties: the one that starts first), so the cut does not depend on
  // how the text was split into deltas.
  std::size_t first = std::string::npos, first_end = std::string::npos;
  for (const std::string& s : stops_) {
    const std::size_t at = held_.find(s);
    if (at == std::string::npos) continue;
    const std::size_t end = at + s.size();
    if (end < first_end || (end == first_end && at < first)) first = at, first_end = end;
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  const std::size_t keep = partial_suffix();
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::flush() {
  if (stopped_) return {};
  return std::exchange(held_, std::string());
}

std::size_t StopMatcher::partial_suffix() const {
  std::size_t best = 0;
  for (const std::string& s : stops_) {
    const std::size_t most = std::min(held_.size(), s.size() - 1);
    for (std::size_t n = most; n > best; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
        best = n;
        break;
      }
    }
  }
  return best;
}

}  // namespace chatscale
