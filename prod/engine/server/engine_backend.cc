#include "prod/engine/server/engine_backend.h"

#include <algorithm>
#include <utility>


namespace chatscale::engine {
namespace {

constexpr double kPollSeconds = 0.001;

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
  EngineBackendStream(Clock& clock, const Tokenizer& tokenizer, std::unique_ptr<EngineStream> stream)
      : clock_(clock), tokenizer_(tokenizer), decoder_(tokenizer_), stream_(std::move(stream)) {}

  Result<InferenceEvent> next(double deadline) override {
    if (done_) return failed_precondition("engine stream already finished");
    if (final_) return take_final();
    std::string text;
    for (;;) {
      auto event = stream_->try_next();
      if (!event.is_ok()) return event.status();
      if (event->has_value()) {
        EngineEvent& e = **event;
        if (e.kind == EngineEvent::Kind::kToken) {
          text += decoder_.push(e.token);
          ++pending_tokens_;
          if (!text.empty()) {
            return InferenceEvent::delta(valid_utf8(std::move(text)), std::exchange(pending_tokens_, 0));
          }
          continue;  // an incomplete UTF-8 character: read on
        }
        if (e.kind == EngineEvent::Kind::kError) {
          done_ = true;
          return InferenceEvent::failure(e.error);
        }
        final_ = InferenceEvent::done(Usage{e.usage.prompt_tokens, e.usage.completion_tokens}, e.reason);
        text += decoder_.finish();
        if (!text.empty() || pending_tokens_ > 0) {
          return InferenceEvent::delta(valid_utf8(std::move(text)), std::exchange(pending_tokens_, 0));
        }
        return take_final();
      }
      double now = clock_.now();
      if (deadline > 0 && now >= deadline) {
        // Tokens read but not sent yet (an incomplete character) stay in the decoder for the next call.
        return deadline_exceeded("engine: no token before the deadline");
      }
      double wake = now + kPollSeconds;
      clock_.sleep_until(deadline > 0 ? std::min(wake, deadline) : wake);
    }
  }

  void cancel() override { stream_->cancel(); }

 private:
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
  std::optional<InferenceEvent> final_;
  std::int64_t pending_tokens_ = 0;
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
  r.sampling.temperature = static_cast<float>(std::max(0.0, request.temperature));
  r.sampling.seed = fnv1a(request.request_id);
  r.eog_ids = eog_ids_;
  CS_ASSIGN_OR_RETURN(std::unique_ptr<EngineStream> stream, loop_.submit(std::move(r)));
  std::unique_ptr<InferenceStream> out = std::make_unique<EngineBackendStream>(clock_, tokenizer_, std::move(stream));
  return out;
}

}  // namespace chatscale::engine
