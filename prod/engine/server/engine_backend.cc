#include "prod/engine/server/engine_backend.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "service/stop_matcher.h"

namespace chatscale::engine {
namespace {

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlongs, surrogates or code points past
// U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence(const std::string& s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
  }
  if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
  if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
  if (c == 0xF4 && b(1) > 0x8F) return 0;  // past U+10FFFF
  return n;
}

// The text with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD (a random
// or badly trained model can sample byte tokens that form no character).
std::string valid_utf8(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

std::string_view role_text(Role role) {
  switch (role) {
    case Role::kSystem: return "system";
    case Role::kAssistant: return "assistant";
    default: return "user";
  }
}

class EngineBackendStream : public InferenceStream {
 public:
  EngineBackendStream(Clock& clock, const Tokenizer& tokenizer, std::unique_ptr<EngineStream> stream,
                      std::vector<std::string> stop)
      : clock_(clock), tokenizer_(tokenizer), decoder_(tokenizer_), stream_(std::move(stream)),
        stops_(std::move(stop)) {}

  Result<InferenceEvent> next(double deadline) override {
    if (done_) return failed_precondition("engine stream already finished");
    if (final_) return take_final();
    for (;;) {
      CS_ASSIGN_OR_RETURN(std::optional<EngineEvent> event, stream_->try_next());
      if (!event) {
        // Tokens read but not sent yet (an incomplete character, a possible stop prefix) stay held.
        if (deadline > 0 && clock_.now() >= deadline) return deadline_exceeded("engine: no token before the deadline");
        wait_for_event(deadline);
        continue;
      }
      if (event->kind == EngineEvent::Kind::kError) {
        done_ = true;
        return InferenceEvent::failure(event->error);
      }
      std::string text;
      if (event->kind == EngineEvent::Kind::kToken) {
        ++generated_;
        ++pending_tokens_;
        text = stops_.feed(valid_utf8(decoder_.push(event->token)));
      } else {
        final_ = InferenceEvent::done(Usage{event->usage.prompt_tokens, event->usage.completion_tokens}, event->reason);
        text = stops_.feed(valid_utf8(decoder_.finish()));
        text += stops_.flush();
      }
      if (stops_.stopped()) {
        stream_->cancel();  // the sequence ends here: its KV blocks are freed at once
        final_ = InferenceEvent::done(Usage{stream_->prompt_tokens(), generated_}, FinishReason::kStop);
      }
      if (!text.empty() || (final_ && pending_tokens_ > 0)) {
        return InferenceEvent::delta(std::move(text), std::exchange(pending_tokens_, 0));
      }
      if (final_) return take_final();
    }
  }

  void cancel() override { stream_->cancel(); }

 private:
  // Suspends the task (or blocks a plain thread) until the loop pushes an event or the deadline.
  void wait_for_event(double deadline) {
    std::shared_ptr<Signal> signal = clock_.make_signal();
    stream_->notify_on_event(signal);
    signal->wait_until(deadline > 0 ? deadline : std::numeric_limits<double>::infinity());
  }

  Result<InferenceEvent> take_final() {
    done_ = true;
    InferenceEvent e = std::move(*final_);
    final_.reset();
    return e;
  }

  Clock& clock_;
  Tokenizer tokenizer_;  // a cheap copy (shared state), so the decoder's pointer stays valid
  StreamingDecoder decoder_;
  std::unique_ptr<EngineStream> stream_;
  StopMatcher stops_;
  std::optional<InferenceEvent> final_;
  std::int64_t pending_tokens_ = 0;
  std::int64_t generated_ = 0;
  bool done_ = false;
};

}  // namespace

EngineBackend::EngineBackend(Clock& clock, EngineLoop& loop, Tokenizer tokenizer, ChatFormat format,
                             EngineBackendConfig config)
    : clock_(clock), loop_(loop), tokenizer_(std::move(tokenizer)), format_(format), config_(std::move(config)) {
  for (std::int32_t id = 0; id < tokenizer_.vocab_size(); ++id) {
    if (tokenizer_.is_eog(id)) eog_ids_.push_back(id);
  }
}

BackendLoad EngineBackend::load() const {
  EngineStats s = loop_.stats();
  return BackendLoad{true, s.in_flight, loop_.capacity(), config_.region};
}

Result<std::vector<std::int32_t>> EngineBackend::encode_messages(const std::vector<ChatTurn>& messages) const {
  std::vector<ChatMessage> chat;
  chat.reserve(messages.size());
  for (const ChatTurn& t : messages) chat.push_back({std::string(role_text(t.role)), t.content});
  CS_ASSIGN_OR_RETURN(std::string text, render_chat(format_, chat, /*add_generation_prompt=*/true));
  return tokenizer_.encode(text, /*add_special=*/false, /*parse_special=*/true);
}

Result<std::unique_ptr<InferenceStream>> EngineBackend::start(const InferenceRequest& request) {
  CS_ASSIGN_OR_RETURN(std::vector<std::int32_t> ids, encode_messages(request.messages));
  EngineRequest r;
  r.prompt_ids = std::move(ids);
  r.max_tokens = request.max_tokens > 0 ? request.max_tokens : config_.default_max_tokens;
  if (!(request.top_p > 0 && request.top_p <= 1)) return invalid_argument("top_p: must be greater than 0 and at most 1");
  r.sampling.temperature = static_cast<float>(std::max(0.0, request.temperature));
  r.sampling.top_p = static_cast<float>(request.top_p);
  r.sampling.seed = request.seed ? *request.seed : fnv1a(request.request_id);
  r.eog_ids = eog_ids_;
  CS_ASSIGN_OR_RETURN(std::unique_ptr<EngineStream> stream, loop_.submit(std::move(r)));
  std::unique_ptr<InferenceStream> out = std::make_unique<EngineBackendStream>(clock_, tokenizer_, std::move(stream), request.stop);
  return out;
}

}  // namespace chatscale::engine
