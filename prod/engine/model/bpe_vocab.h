// A small, real byte-level BPE vocabulary (GPT-2 / Llama-3 style) for random models: the 256 GPT-2
// byte tokens (bytes_to_unicode), merges learned by BPE training on an embedded English sample
// (stopping when no pair occurs twice or the vocabulary is full), Llama-3's special tokens (control)
// and <|reserved_special_token_N|> up to the requested size; plus the GGUF tokenizer.* keys that
// describe it. Pure functions; deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "prod/engine/gguf/gguf.h"

namespace chatscale::engine {

struct BpeVocab {
  std::vector<std::string> tokens;       // GPT-2 byte-mapped strings
  std::vector<std::int32_t> token_type;  // 1 normal, 3 control
  std::vector<std::string> merges;       // "left right", in rank order
  std::int32_t bos_id = 0;               // <|begin_of_text|>
  std::int32_t eos_id = 0;               // <|eot_id|> (end of a chat turn; Llama-3 instruct's eos)
  std::int32_t eot_id = 0;
  std::int32_t end_of_text_id = 0;       // <|end_of_text|>
};

// The Llama-3 instruct chat template (Jinja text, as in tokenizer.chat_template).
std::string_view llama3_chat_template();
// The embedded English training sample.
std::string_view bpe_training_text();
// GPT-2's bytes_to_unicode: the UTF-8 string standing for byte b.
std::string gpt2_byte_token(std::uint8_t b);
// The 256 byte values in GPT-2's vocabulary order (printable first).
std::vector<std::uint8_t> gpt2_byte_order();

// A vocabulary of exactly `vocab` tokens; kInvalidArgument when vocab < 256 + 5 specials.
Result<BpeVocab> build_bpe_vocab(std::int64_t vocab);
// Adds tokenizer.ggml.{model=gpt2, pre=llama-bpe, tokens, token_type, merges, bos_token_id,
// eos_token_id, eot_token_id, add_bos_token} and tokenizer.chat_template.
void add_bpe_tokenizer(GgufWriter& w, const BpeVocab& v);

}  // namespace chatscale::engine
