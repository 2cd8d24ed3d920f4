// StopMatcher: OpenAI's `stop` sequences over a stream of text deltas, for any backend that does not
// stop by itself (the engine, the synthetic backend). feed() takes the next delta and returns the text
// that is safe to send now: everything before the earliest stop string found in the text so far, and
// otherwise all but the longest suffix that could still grow into a stop string (held back until the
// next delta decides). A match ends the stream: the stop string and everything after it are dropped,
// and stopped() is true; flush() returns the held-back text when the stream ends without a match.
// Cuts fall only where a stop string (valid UTF-8) starts, so valid UTF-8 input stays valid.
//
// With no stop strings feed() returns its input unchanged. Cost: O(delta + held) per feed times the
// number of stop strings (at most 4 of at most 64 bytes in practice).
//
// Ownership: a value. Thread-safety: none (one stream, one reader). Failure behaviour: none; empty
// stop strings are ignored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chatscale {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  bool active() const { return !stops_.empty(); }
  // The text safe to emit after `delta`; empty once stopped.
  std::string feed(std::string_view delta);
  // The held-back text, at the end of a stream that did not stop; empty once stopped.
  std::string flush();
  bool stopped() const { return stopped_; }
  std::size_t held_bytes() const { return held_.size(); }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of a stop string.
  std::size_t partial_suffix() const;

  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace chatscale
