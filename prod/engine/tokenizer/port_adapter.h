// Adapter from the engine's Tokenizer to the project's chatscale::Tokenizer port (shared/ports/
// tokenizer.h): count_tokens is the number of ids the text encodes to, without BOS/EOS and with
// special tokens left as plain text (what a user message costs inside a prompt).
//
// Header-only. Holds a copy of the Tokenizer (shared immutable state); thread-safe; never fails.
#pragma once

#include <utility>

#include "ports/tokenizer.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

class TokenizerPortAdapter : public chatscale::Tokenizer {
 public:
  explicit TokenizerPortAdapter(engine::Tokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  std::int64_t count_tokens(std::string_view text) const override {
    return static_cast<std::int64_t>(tokenizer_.encode(text, false, false).size());
  }
  const engine::Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  engine::Tokenizer tokenizer_;
};

}  // namespace chatscale::engine
