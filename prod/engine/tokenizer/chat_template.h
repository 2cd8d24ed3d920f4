// Chat prompts: renders {role, content} messages into the prompt text a Llama-family instruct model
// expects. Two formats, chosen from the GGUF tokenizer.chat_template by its markers:
//   Llama 3 ("<|start_header_id|>"): <|begin_of_text|> then per message
//       <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>   (content trimmed)
//     and, with add_generation_prompt, <|start_header_id|>assistant<|end_header_id|>\n\n.
//   Llama 2 ("[INST]"): <s>[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ASSISTANT </s><s>[INST] ...
//     (an optional first system message; then user and assistant alternating, starting with user).
// With no template, Llama 3 for byte-level BPE vocabularies that have <|start_header_id|>, Llama 2
// for SPM vocabularies. The rendered text carries BOS as text: encode it with add_special = false and
// parse_special = true.
//
// Pure functions; thread-safe. Unsupported templates and malformed conversations are
// kInvalidArgument with the reason.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (Llama 3 accepts any role name)
  std::string content;
};

enum class ChatFormat { kLlama3, kLlama2 };

std::string_view chat_format_name(ChatFormat f);

// Detects the format of a Jinja chat template (empty: none given, decided by the vocabulary).
Result<ChatFormat> detect_chat_format(std::string_view chat_template, const Tokenizer& tokenizer);
Result<ChatFormat> detect_chat_format(const Tokenizer& tokenizer);  // from the vocabulary's template

Result<std::string> render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                                bool add_generation_prompt = true);

}  // namespace chatscale::engine
