#include "prod/llm/openai_stream_parser.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

namespace chatscale {
namespace {

constexpr std::size_t kMaxLineBytes = 1 << 20;
constexpr std::size_t kMaxQuotedBytes = 200;

FinishReason map_finish_reason(std::string_view reason) {
  if (reason == "length") return FinishReason::kLength;
  if (reason == "content_filter") return FinishReason::kContentFilter;
  return FinishReason::kStop;  // "stop", and "tool_calls" / "function_call" / unknown: the answer ended
}

std::string quote(std::string_view s) {
  return s.size() <= kMaxQuotedBytes ? std::string(s) : std::string(s.substr(0, kMaxQuotedBytes)) + "...";
}

constexpr std::int64_t kAbsent = -1;
constexpr std::int64_t kMistyped = -2;

// A non-negative integer field; kAbsent when absent or null, kMistyped when of another type.
std::int64_t count_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return kAbsent;
  if (!it->is_number_integer()) return kMistyped;
  return std::max<std::int64_t>(0, it->get<std::int64_t>());
}

}  // namespace

void OpenAiStreamParser::feed(std::string_view bytes) {
  if (ended_) return;
  buffer_.append(bytes);
  std::size_t start = 0;
  while (!ended_) {
    std::size_t end = buffer_.find('\n', start);
    if (end == std::string::npos) break;
    std::string_view line(buffer_.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    handle_line(line);
    start = end + 1;
  }
  buffer_.erase(0, start);
  if (!ended_ && buffer_.size() > kMaxLineBytes) fail("upstream sent an SSE line over 1 MiB");
}

void OpenAiStreamParser::end_of_stream(const Status& why) {
  if (ended_) return;
  if (!buffer_.empty()) {  // a last line without its newline
    std::string rest = std::move(buffer_);
    buffer_.clear();
    handle_line(rest);
  }
  if (!ended_ && has_data_) dispatch(data_);  // a last event without its blank line
  if (ended_) return;
  if (finish_ != FinishReason::kNone) {
    finish_done();
    return;
  }
  fail(why.is_ok() ? "upstream ended the stream before the answer ended"
                   : "upstream stream broke before the answer ended: " + why.message());
}

InferenceEvent OpenAiStreamParser::pop() {
  InferenceEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void OpenAiStreamParser::handle_line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) dispatch(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment (keep-alive)
  std::size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;  // event, id, retry: not used by chat completions
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
}

void OpenAiStreamParser::dispatch(const std::string& data) {
  if (data == "[DONE]") {
    finish_done();
    return;
  }
  handle_chunk(data);
}

// One chat.completion.chunk: content, finish reason and usage, each optional.
void OpenAiStreamParser::handle_chunk(const std::string& data) {
  auto chunk = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) return fail("upstream sent a malformed chunk: " + quote(data));
  try {
    if (auto error = chunk.find("error"); error != chunk.end() && !error->is_null()) {
      std::string message = error->is_object() && error->contains("message") && (*error)["message"].is_string()
                                ? (*error)["message"].get<std::string>()
                                : error->dump();
      return fail("upstream error mid-stream: " + quote(message));
    }
    std::int64_t reported_completion = -1;
    if (auto usage = chunk.find("usage"); usage != chunk.end() && !usage->is_null()) {
      if (!usage->is_object()) return fail("upstream sent a malformed usage: " + quote(data));
      std::int64_t prompt = count_field(*usage, "prompt_tokens");
      reported_completion = count_field(*usage, "completion_tokens");
      if (prompt == kMistyped || reported_completion == kMistyped)
        return fail("upstream sent a malformed usage: " + quote(data));
      if (prompt >= 0) usage_prompt_ = prompt;
      if (reported_completion >= 0) usage_completion_ = reported_completion;
    }
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || choices->is_null() || (choices->is_array() && choices->empty())) return;
    if (!choices->is_array() || !choices->front().is_object()) return fail("upstream sent malformed choices: " + quote(data));
    const auto& choice = choices->front();
    if (auto reason = choice.find("finish_reason"); reason != choice.end() && !reason->is_null())
      finish_ = map_finish_reason(reason->get<std::string>());
    auto delta = choice.find("delta");
    if (delta == choice.end() || delta->is_null()) return;
    auto content = delta->find("content");
    if (content == delta->end() || content->is_null()) return;
    std::string text = content->get<std::string>();
    if (text.empty()) return;
    std::int64_t tokens = reported_completion > tokens_ ? reported_completion - tokens_ : 1;
    tokens_ += tokens;
    events_.push_back(InferenceEvent::delta(std::move(text), tokens));
  } catch (const nlohmann::json::exception& e) {
    fail("upstream sent a malformed chunk (" + std::string(e.what()) + "): " + quote(data));
  }
}

void OpenAiStreamParser::finish_done() {
  Usage usage{usage_prompt_ >= 0 ? usage_prompt_ : prompt_tokens_, usage_completion_ >= 0 ? usage_completion_ : tokens_};
  events_.push_back(InferenceEvent::done(usage, finish_ == FinishReason::kNone ? FinishReason::kStop : finish_));
  ended_ = true;
}

void OpenAiStreamParser::fail(std::string message) {
  events_.push_back(InferenceEvent::failure(unavailable(std::move(message))));
  ended_ = true;
}

}  // namespace chatscale
