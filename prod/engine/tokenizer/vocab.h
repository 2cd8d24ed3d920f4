// A tokenizer vocabulary as GGUF describes it (the tokenizer.* keys of llama.cpp's files): the kind
// of tokenizer, the pre-tokenizer, tokens with scores and types, BPE merges, special token ids and
// the flags that steer encoding and decoding. vocab_from_gguf reads one from an open GGUF file with
// llama.cpp's defaults for the keys a file leaves out.
//
// Plain values; thread-compatible. vocab_from_gguf never throws: missing or mistyped keys, ids out of
// range and unsupported tokenizer or pre-tokenizer names are kInvalidArgument naming the file and key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale::engine {

class GgufFile;

// tokenizer.ggml.model: "llama" (SentencePiece-style) or "gpt2" (byte-level BPE).
enum class VocabType { kSpm, kBpe };

// How byte-level BPE splits text into words before merging (tokenizer.ggml.pre).
enum class PreTokenizer {
  kNone,    // SPM vocabularies: no split
  kLlama3,  // "llama3", "llama-v3", "llama-bpe", "falcon3": the Llama-3 regex
  kGpt2,    // "gpt-2", "phi-2", "mpt", "olmo": the GPT-2 regex
};

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : std::int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

inline constexpr std::int32_t kNoToken = -1;

struct Vocab {
  VocabType type = VocabType::kSpm;
  PreTokenizer pre = PreTokenizer::kNone;
  std::string pre_name;                 // as in the file ("" for SPM)
  std::vector<std::string> tokens;      // token texts (SPM: U+2581 for spaces; BPE: GPT-2 byte characters)
  std::vector<float> scores;            // SPM merge priorities (empty: all 0)
  std::vector<TokenType> token_types;   // empty: all normal
  std::vector<std::string> merges;      // BPE: "left right", in rank order
  std::int32_t bos = kNoToken;
  std::int32_t eos = kNoToken;
  std::int32_t eot = kNoToken;          // end of turn (<|eot_id|>, <end_of_turn>, ...)
  std::int32_t eom = kNoToken;          // end of message (<|eom_id|>)
  std::int32_t unk = kNoToken;
  std::int32_t pad = kNoToken;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;        // SPM: a space before the text (and after special tokens)
  bool ignore_merges = false;           // BPE: a word that is a whole token skips merging (Llama 3)
  bool clean_spaces = false;            // decode removes " ." " ," " 's"... as llama.cpp does
  std::string chat_template;            // tokenizer.chat_template (Jinja text), may be empty

  TokenType type_of(std::int32_t id) const {
    return token_types.empty() ? TokenType::kNormal : token_types[static_cast<std::size_t>(id)];
  }
  float score_of(std::int32_t id) const { return scores.empty() ? 0.0f : scores[static_cast<std::size_t>(id)]; }
};

// The pre-tokenizer names vocab_from_gguf accepts, for error messages and docs.
std::string_view supported_pre_tokenizers();

// Sets the defaults llama.cpp applies per tokenizer and pre-tokenizer (add_bos, add_space_prefix,
// ignore_merges, clean_spaces, default special ids). `pre_name` is ignored for SPM.
Status apply_vocab_defaults(Vocab& v, VocabType type, std::string_view pre_name);

// Reads tokenizer.ggml.{model, pre, tokens, scores, token_type, merges, bos/eos/eot/eom/unknown/
// padding_token_id, add_bos_token, add_eos_token, add_space_prefix} and tokenizer.chat_template.
// A byte-level BPE vocabulary with pre "default" (or none) is rejected: llama.cpp splits those with a
// different, multi-regex pre-tokenizer that this library does not implement.
Result<Vocab> vocab_from_gguf(const GgufFile& file);

}  // namespace chatscale::engine
