// OpenAiStreamParser: turns the body of an OpenAI-compatible streaming chat completion (Server-Sent
// Events carrying `chat.completion.chunk` objects, ended by `data: [DONE]`) into InferenceEvents.
// Pure: no I/O and no clock; the OpenAI backend feeds it the bytes it reads, in pieces of any size.
//
// Events: each non-empty choices[0].delta.content becomes a kDelta (tokens = 1, unless the chunk also
// carries usage.completion_tokens, as vLLM's continuous usage stats do: then the growth of that count);
// finish_reason and the usage chunk (stream_options.include_usage) are remembered, and `[DONE]` yields
// kDone with them: usage as reported, or {the request's prompt tokens, tokens counted} when the
// upstream sent none; finish reason stop, length or content_filter as sent, stop when absent or not
// one of ours (tool_calls ...). A chunk that is not JSON, not an object, or has the wrong field types,
// an `{"error": ...}` chunk, or a line over 1 MiB yields kError (Unavailable). When the body ends
// before `[DONE]`, the stream is done if a finish_reason came (some servers omit [DONE]), else kError
// (Unavailable, with the reason given to end_of_stream()).
//
// SSE: lines end with LF or CRLF (a lone CR is not treated as a line end); `data:` fields of one
// event are joined with LF; comments (`:`) and other fields (event, id, retry) are ignored.
//
// Thread-safety: none; one parser per stream. Failure behaviour: never throws; errors are events.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ports/inference.h"

namespace chatscale {

class OpenAiStreamParser {
 public:
  explicit OpenAiStreamParser(std::int64_t prompt_tokens) : prompt_tokens_(prompt_tokens) {}

  // Parses what it can of `bytes` (after what came before); complete events are queued. Input after
  // the terminal event is ignored.
  void feed(std::string_view bytes);
  // The body ended: `why` is OK for a clean end, else the transport error. Queues the terminal event
  // if none came yet.
  void end_of_stream(const Status& why);

  bool has_event() const { return !events_.empty(); }
  InferenceEvent pop();
  // A terminal event (kDone or kError) has been queued.
  bool ended() const { return ended_; }
  std::int64_t tokens() const { return tokens_; }

 private:
  void handle_line(std::string_view line);
  void dispatch(const std::string& data);
  void handle_chunk(const std::string& data);
  void finish_done();
  void fail(std::string message);

  std::int64_t prompt_tokens_;
  std::string buffer_;        // bytes after the last complete line
  std::string data_;          // data lines of the event being read
  bool has_data_ = false;
  std::deque<InferenceEvent> events_;
  bool ended_ = false;
  std::int64_t tokens_ = 0;                 // completion tokens sent in deltas
  std::int64_t usage_prompt_ = -1;          // -1: not reported
  std::int64_t usage_completion_ = -1;
  FinishReason finish_ = FinishReason::kNone;
};

}  // namespace chatscale
