// The pre-tokenizers of byte-level BPE: split text into words before merging, hand-written over UTF-8
// code points (no regex engine) exactly as llama.cpp's unicode_regex_split_custom_{llama3,gpt2} do.
//   Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//            \s*[\r\n]+|\s+(?!\S)|\s+
//   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Invalid UTF-8 bytes count as one code point each (classified as U+FFFD, a symbol) and stay in the
// words unchanged, so the words always concatenate back to the input.
//
// Pure functions; thread-safe; never fail.
#pragma once

#include <string_view>
#include <vector>

#include "prod/engine/tokenizer/vocab.h"

namespace chatscale::engine {

// The words of `text` (views into it), in order; empty for empty text.
std::vector<std::string_view> pretokenize(PreTokenizer pre, std::string_view text);

}  // namespace chatscale::engine
