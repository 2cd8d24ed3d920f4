#include "prod/llm/synthetic_backend.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "service/stop_matcher.h"

namespace chatscale {
namespace {

// Benign word classes for sentence templates. The words are chosen so that no moderation rule can
// fire on the filler (a test runs the built-in moderator over many answers).
constexpr std::array<std::string_view, 8> kDeterminers = {"the", "a", "every", "this", "our", "each", "one", "that"};
constexpr std::array<std::string_view, 32> kAdjectives = {
    "quiet", "bright", "small", "early", "green", "gentle", "simple", "careful", "open", "warm", "steady",
    "clear", "patient", "modern", "local", "narrow", "wide", "golden", "curious", "silver", "calm", "busy",
    "ancient", "tidy", "friendly", "distant", "fresh", "soft", "useful", "honest", "little", "northern"};
constexpr std::array<std::string_view, 48> kNouns = {
    "river", "garden", "morning", "system", "window", "table", "village", "teacher", "library", "signal",
    "market", "project", "letter", "bridge", "field", "kitchen", "cloud", "engine", "pattern", "student",
    "question", "answer", "planet", "orchard", "harbor", "painter", "journey", "notebook", "meadow", "lantern",
    "station", "recipe", "museum", "forest", "island", "melody", "compass", "workshop", "valley", "ladder",
    "festival", "ribbon", "tower", "canal", "puzzle", "theory", "picture", "season"};
constexpr std::array<std::string_view, 32> kVerbs = {
    "follows", "builds", "reaches", "finds", "carries", "paints", "measures", "opens", "explains", "covers",
    "joins", "shapes", "notes", "keeps", "visits", "describes", "gathers", "lifts", "plans", "welcomes",
    "crosses", "sorts", "shows", "records", "greets", "improves", "prepares", "repairs", "studies", "watches",
    "fills", "connects"};
constexpr std::array<std::string_view, 12> kPrepositions = {
    "near", "across", "beyond", "under", "along", "inside", "behind", "toward", "around", "beside", "over", "past"};

// Sentence shapes: D determiner, A adjective, N noun, V verb, P preposition.
constexpr std::array<std::string_view, 6> kTemplates = {"DANVDN", "DNVPDAN", "PDNDNVDAN", "DAANVDNPDN",
                                                        "DNVDAN", "DANVPDN"};

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Writes the answer one word (one token) at a time: sentences from the templates, the first word
// capitalised, a period after each sentence's last word and after the answer's last word.
class TextGenerator {
 public:
  TextGenerator(std::uint64_t seed, std::string_view request_id) : state_(fnv1a(request_id) ^ seed) {}

  std::string next_piece(bool last_of_answer) {
    if (position_ >= shape_.size()) {
      shape_ = kTemplates[draw(kTemplates.size())];
      position_ = 0;
    }
    std::string word(pick(shape_[position_]));
    if (position_ == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
    ++position_;
    if (position_ == shape_.size() || last_of_answer) word += '.';
    std::string piece = first_ ? word : " " + word;
    first_ = false;
    return piece;
  }

 private:
  std::size_t draw(std::size_t n) { return static_cast<std::size_t>(splitmix64(state_) % n); }

  std::string_view pick(char part) {
    switch (part) {
      case 'D': return kDeterminers[draw(kDeterminers.size())];
      case 'A': return kAdjectives[draw(kAdjectives.size())];
      case 'V': return kVerbs[draw(kVerbs.size())];
      case 'P': return kPrepositions[draw(kPrepositions.size())];
      default: return kNouns[draw(kNouns.size())];
    }
  }

  std::uint64_t state_;
  std::string_view shape_;
  std::size_t position_ = 0;
  bool first_ = true;
};

// Tokens the request gets, and whether max_tokens cut the answer short.
std::int64_t answer_length(const SyntheticBackendConfig& config, const InferenceRequest& request) {
  std::int64_t n = std::max<std::int64_t>(0, config.answer_tokens);
  return request.max_tokens > 0 ? std::min(n, request.max_tokens) : n;
}

bool truncated(const SyntheticBackendConfig& config, const InferenceRequest& request) {
  return request.max_tokens > 0 && config.answer_tokens > request.max_tokens;
}

}  // namespace

class SyntheticStream : public InferenceStream {
 public:
  SyntheticStream(SyntheticBackend& backend, const InferenceRequest& request)
      : backend_(backend),
        text_(backend.config_.seed, request.request_id),
        start_(backend.clock_.now()),
        prompt_tokens_(request.prompt_tokens),
        total_(answer_length(backend.config_, request)),
        truncated_(truncated(backend.config_, request)),
        stops_(request.stop) {}
  ~SyntheticStream() override { release(); }

  Result<InferenceEvent> next(double deadline) override {
    if (cancelled_.load()) return cancelled("synthetic stream was cancelled");
    if (finished_) return failed_precondition("synthetic stream already finished");
    double due = due_time();
    if (deadline > 0 && due > deadline) {
      backend_.clock_.sleep_until(deadline);
      if (cancelled_.load()) return cancelled("synthetic stream was cancelled");
      return deadline_exceeded("synthetic backend " + backend_.name() + ": no token before the deadline");
    }
    backend_.clock_.sleep_until(due);
    if (cancelled_.load()) return cancelled("synthetic stream was cancelled");
    if (sent_ < total_) {
      bool last = sent_ + 1 == total_ && !truncated_;
      ++sent_;
      std::string text = stops_.feed(text_.next_piece(last));
      if (stops_.stopped()) {  // the answer ends here: kDone (kStop) comes next
        total_ = sent_;
        truncated_ = false;
      } else if (sent_ == total_) {
        text += stops_.flush();
      }
      return InferenceEvent::delta(std::move(text), 1);
    }
    finished_ = true;
    release();
    return InferenceEvent::done(Usage{prompt_tokens_, sent_}, truncated_ ? FinishReason::kLength : FinishReason::kStop);
  }

  void cancel() override {
    cancelled_.store(true);
    release();
  }

 private:
  // Delta i is due at start + first_token + i / rate; the done event comes with the last delta.
  // Rate 0: everything is due at start.
  double due_time() const {
    const auto& c = backend_.config_;
    if (c.tokens_per_second <= 0) return start_;
    std::int64_t index = std::max<std::int64_t>(0, std::min(sent_, total_ - 1));
    return start_ + std::max(0.0, c.first_token_ms) / 1000.0 + static_cast<double>(index) / c.tokens_per_second;
  }

  void release() {
    if (!released_.exchange(true)) backend_.release_slot();
  }

  SyntheticBackend& backend_;
  TextGenerator text_;
  double start_;
  std::int64_t prompt_tokens_;
  std::int64_t total_;
  bool truncated_;
  StopMatcher stops_;
  std::int64_t sent_ = 0;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> released_{false};
};

SyntheticBackend::SyntheticBackend(Clock& clock, SyntheticBackendConfig config)
    : clock_(clock), config_(std::move(config)) {}

BackendLoad SyntheticBackend::load() const {
  return BackendLoad{true, in_flight_.load(), std::max<std::int64_t>(0, config_.max_in_flight), config_.region};
}

bool SyntheticBackend::acquire_slot() {
  if (config_.max_in_flight <= 0) {
    in_flight_.fetch_add(1);
    return true;
  }
  std::int64_t current = in_flight_.load();
  while (current < config_.max_in_flight) {
    if (in_flight_.compare_exchange_weak(current, current + 1)) return true;
  }
  return false;
}

Result<std::unique_ptr<InferenceStream>> SyntheticBackend::start(const InferenceRequest& request) {
  if (!acquire_slot()) {
    refused_.fetch_add(1);
    return unavailable("synthetic backend " + config_.name + " is full (" + std::to_string(config_.max_in_flight) +
                       " streams in flight)");
  }
  started_.fetch_add(1);
  std::unique_ptr<InferenceStream> stream = std::make_unique<SyntheticStream>(*this, request);
  return stream;
}

std::string SyntheticBackend::answer_text(const SyntheticBackendConfig& config, const InferenceRequest& request) {
  TextGenerator text(config.seed, request.request_id);
  std::int64_t total = answer_length(config, request);
  bool cut = truncated(config, request);
  std::string out;
  for (std::int64_t i = 0; i < total; ++i) out += text.next_piece(i + 1 == total && !cut);
  return out;
}

}  // namespace chatscale
