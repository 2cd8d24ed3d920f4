// Tokenizer: text to token ids and back for a GGUF vocabulary, as llama.cpp's "llama" (SentencePiece-
// style: spaces to U+2581, an optional space prefix, merges by highest score, <0xXX> byte fallback)
// and "gpt2" (byte-level BPE: Llama-3 or GPT-2 pre-tokenizer, GPT-2 byte characters, merges by rank)
// vocabulary types do it, verified against llama.cpp's ggml-vocab-*.gguf test vectors.
//
// encode(text, add_special, parse_special): add_special adds BOS/EOS as the vocabulary asks;
// parse_special recognises control tokens (<|eot_id|>, <s>, ...) written in the text (user-defined
// tokens are always recognised, as in llama.cpp). decode(ids) joins the pieces (bytes reassembled,
// U+2581 back to spaces, the leading space of an SPM text stripped, control tokens dropped unless
// asked for). StreamingDecoder turns tokens into text as they arrive, emitting only complete UTF-8.
//
// A Tokenizer is immutable after create(): safe to share between threads. Copies are cheap (shared
// state). Failures are values: create()/from_gguf() give kInvalidArgument for inconsistent
// vocabularies; encode/decode accept any input (invalid UTF-8 included) and never fail; ids out of
// range decode to nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "prod/engine/tokenizer/vocab.h"

namespace chatscale::engine {

class GgufFile;

struct DecodeOptions {
  bool remove_special = true;    // drop a leading BOS (and trailing EOS when add_eos) as llama.cpp does
  bool unparse_special = false;  // render control/unknown tokens as their text instead of nothing
};

class Tokenizer {
 public:
  static Result<Tokenizer> create(Vocab vocab);
  static Result<Tokenizer> from_gguf(const GgufFile& file);
  // Opens a GGUF file (a model, or a vocabulary-only file) and reads its tokenizer.
  static Result<Tokenizer> open(const std::string& path);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special = true, bool parse_special = false) const;
  std::string decode(std::span<const std::int32_t> ids, DecodeOptions options = {}) const;
  // The bytes of one token (control tokens: their text when `special`, else empty). Not stripped of a
  // leading space; may be a partial UTF-8 sequence (byte tokens).
  std::string_view token_to_piece(std::int32_t id, bool special = true) const;

  std::int32_t bos() const;
  std::int32_t eos() const;
  std::int32_t eot() const;  // kNoToken when the vocabulary has none
  // End of generation: eos, eot (<|eot_id|>, <end_of_turn>, <|im_end|>, <|end|>), eom (<|eom_id|>).
  bool is_eog(std::int32_t id) const;
  bool is_control(std::int32_t id) const;
  std::int32_t vocab_size() const;
  // The id of a token text (exact), or kNoToken.
  std::int32_t find_token(std::string_view text) const;
  const Vocab& vocab() const;

  struct State;

 private:
  explicit Tokenizer(std::shared_ptr<const State> s) : s_(std::move(s)) {}
  std::shared_ptr<const State> s_;
};

// Turns a stream of token ids into text, holding back bytes until a UTF-8 sequence is complete (a
// multi-byte character split over byte tokens comes out whole). Not thread-safe; one per sequence.
class StreamingDecoder {
 public:
  // `strip_leading_space`: drop one space at the start of the first piece (SPM prompts decoded from the
  // start); generated continuations usually keep it.
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool strip_leading_space = false, bool special = false)
      : tokenizer_(&tokenizer), strip_(strip_leading_space), special_(special) {}
  // The text that is complete after this token (possibly empty).
  std::string push(std::int32_t id);
  // Whatever is held back (an incomplete UTF-8 tail), at the end of the stream.
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  bool strip_;
  bool special_;
  std::string pending_;
};

}  // namespace chatscale::engine
