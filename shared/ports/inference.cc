#include "ports/inference.h"

namespace chatscale {

InferenceEvent InferenceEvent::delta(std::string text, std::int64_t tokens) {
  InferenceEvent e;
  e.kind = Kind::kDelta;
  e.bytes = static_cast<std::int64_t>(text.size());
  e.text = std::move(text);
  e.tokens = tokens;
  return e;
}

InferenceEvent InferenceEvent::done(Usage usage, FinishReason reason) {
  InferenceEvent e;
  e.kind = Kind::kDone;
  e.usage = usage;
  e.finish_reason = reason;
  return e;
}

InferenceEvent InferenceEvent::failure(Status error) {
  InferenceEvent e;
  e.kind = Kind::kError;
  e.error = std::move(error);
  return e;
}

}  // namespace chatscale
