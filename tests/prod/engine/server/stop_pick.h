// Test support: a stop string taken from the middle of a known answer, and the answer a run with
// that stop must give (everything before the stop's first occurrence).
#pragma once

#include <string>

namespace chatscale::engine::testing {

struct StopPick {
  std::string stop;      // empty when the answer is too short to cut
  std::string expected;  // the answer before the stop's first occurrence
};

inline bool utf8_boundary(const std::string& s, std::size_t i) {
  return i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

// A stop that starts at a character boundary near the middle of `answer` (at least one character
// before it), grown until its first occurrence is where it was taken, at most 64 bytes.
inline StopPick pick_stop(const std::string& answer) {
  std::size_t from = answer.size() / 2;
  while (from > 0 && !utf8_boundary(answer, from)) --from;
  if (from == 0 || from >= answer.size()) return {};
  for (std::size_t end = from + 1; end <= answer.size() && end - from <= 64; ++end) {
    if (!utf8_boundary(answer, end)) continue;
    std::string stop = answer.substr(from, end - from);
    std::size_t first = answer.find(stop);
    if (first == from || end == answer.size() || end - from == 64) return {stop, answer.substr(0, first)};
  }
  return {};
}

}  // namespace chatscale::engine::testing
