#include "prod/engine/tokenizer/chat_template.h"

namespace chatscale::engine {

namespace {

// Jinja's trim / Python's str.strip(): leading and trailing whitespace.
std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const std::size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const std::size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string render_llama3(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out = "<|begin_of_text|>";
  for (const ChatMessage& m : messages) {
    out += "<|start_header_id|>";
    out += m.role;
    out += "<|end_header_id|>\n\n";
    out += trim(m.content);
    out += "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

Result<std::string> render_llama2(std::span<const ChatMessage> messages) {
  std::string system;
  bool has_system = false;
  if (!messages.empty() && messages.front().role == "system") {
    system = messages.front().content;
    has_system = true;
    messages = messages.subspan(1);
  }
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool user_turn = i % 2 == 0;
    if (m.role != (user_turn ? "user" : "assistant"))
      return invalid_argument("chat template (Llama 2): message " + std::to_string(i + (has_system ? 1 : 0)) +
                              " has role '" + m.role + "', expected '" + (user_turn ? "user" : "assistant") +
                              "' (roles alternate user/assistant after an optional first system message)");
    if (user_turn) {
      std::string content = m.content;
      if (i == 0 && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      out += "<s>[INST] ";
      out += trim(content);
      out += " [/INST]";
    } else {
      out += " ";
      out += trim(m.content);
      out += " </s>";
    }
  }
  return out;
}

}  // namespace

std::string_view chat_format_name(ChatFormat f) { return f == ChatFormat::kLlama3 ? "llama3" : "llama2"; }

Result<ChatFormat> detect_chat_format(std::string_view tmpl, const Tokenizer& tokenizer) {
  if (tmpl.find("<|start_header_id|>") != std::string_view::npos) return ChatFormat::kLlama3;
  if (tmpl.find("[INST]") != std::string_view::npos) return ChatFormat::kLlama2;
  if (!tmpl.empty())
    return invalid_argument("unsupported chat template (supported: Llama 3, marked by <|start_header_id|>; "
                            "Llama 2, marked by [INST])");
  const Vocab& v = tokenizer.vocab();
  if (v.type == VocabType::kSpm) return ChatFormat::kLlama2;
  if (tokenizer.find_token("<|start_header_id|>") != kNoToken) return ChatFormat::kLlama3;
  return invalid_argument("no chat template in the vocabulary and no default for it (a byte-level BPE "
                          "vocabulary without <|start_header_id|>)");
}

Result<ChatFormat> detect_chat_format(const Tokenizer& tokenizer) {
  return detect_chat_format(tokenizer.vocab().chat_template, tokenizer);
}

Result<std::string> render_chat(ChatFormat format, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  if (messages.empty()) return invalid_argument("chat template: no messages");
  if (format == ChatFormat::kLlama3) return render_llama3(messages, add_generation_prompt);
  return render_llama2(messages);
}

}  // namespace chatscale::engine
