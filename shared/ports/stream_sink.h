// Where the message service sends the answer stream: SSE over HTTP in prod, the simulator's stream
// accounting in sim, a recorder in tests. Each call returns false once the client has gone; the
// service then keeps generating and persists the answer anyway, and stops calling the sink.
#pragma once

#include <cstdint>
#include <string_view>

#include "ports/types.h"

namespace chatscale {

class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // The user message is durable; the stream begins (prod sends the response header here).
  virtual bool on_user_message(const Message& message) = 0;
  // The first delta is the first token. Aggregating runtimes may send many tokens in one call with
  // empty text and the byte count they stand for.
  virtual bool on_delta(std::string_view text, std::int64_t tokens, std::int64_t bytes) = 0;
  // The model has been silent for a heartbeat interval.
  virtual bool on_heartbeat() = 0;
  // The answer as stored: status, finish reason, usage. Last call of a stream that began.
  virtual void on_done(const Message& assistant) = 0;
};

}  // namespace chatscale
