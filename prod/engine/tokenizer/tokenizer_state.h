// Internal to the tokenizer library: the immutable lookup state behind a Tokenizer (indexes built once
// by Tokenizer::create) and the encoder entry point. Thread-safe to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Tokenizer::State {
  Vocab vocab;
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> token_to_id;
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> bpe_ranks;  // "left right"
  std::vector<std::int32_t> special_tokens;  // control, user-defined, unknown; longest text first
  std::vector<std::string> pieces;           // token_to_piece(id, special = true)
  std::unordered_set<std::int32_t> eog;
  std::int32_t byte_tokens[256];             // token of each byte (SPM: <0xXX>; BPE: GPT-2 char), or -1

  std::int32_t find(std::string_view text) const {
    auto it = token_to_id.find(text);
    return it == token_to_id.end() ? kNoToken : it->second;
  }
  std::int32_t bpe_rank(std::string_view left, std::string_view right) const;
};

// Encodes `text` (no BOS/EOS) into `out`.
void encode_text(const Tokenizer::State& s, std::string_view text, bool parse_special, std::vector<std::int32_t>& out);

}  // namespace chatscale::engine
