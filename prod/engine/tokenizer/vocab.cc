#include "prod/engine/tokenizer/vocab.h"

#include <array>
#include <span>

#include "prod/engine/gguf/gguf.h"

namespace chatscale::engine {

namespace {

constexpr std::array<std::string_view, 4> kLlama3Names = {"llama3", "llama-v3", "llama-bpe", "falcon3"};
constexpr std::array<std::string_view, 4> kGpt2Names = {"gpt-2", "phi-2", "mpt", "olmo"};

bool one_of(std::string_view s, std::span<const std::string_view> names) {
  for (auto n : names)
    if (s == n) return true;
  return false;
}

Status key_error(const GgufFile& f, std::string_view key, std::string_view what) {
  return invalid_argument(f.path() + ": " + std::string(key) + ": " + std::string(what));
}

Status read_special_id(const GgufFile& f, std::string_view key, std::int32_t& id, std::size_t n_tokens) {
  if (!f.has(key)) {
    if (id >= static_cast<std::int64_t>(n_tokens)) id = kNoToken;  // a default the vocabulary lacks
    return Status();
  }
  CS_ASSIGN_OR_RETURN(const std::uint32_t v, f.get_u32(key));
  if (v >= n_tokens)
    return key_error(f, key, "token id " + std::to_string(v) + " is out of range (vocabulary of " +
                                 std::to_string(n_tokens) + " tokens)");
  id = static_cast<std::int32_t>(v);
  return Status();
}

Status read_flag(const GgufFile& f, std::string_view key, bool& flag) {
  if (!f.has(key)) return Status();
  CS_ASSIGN_OR_RETURN(flag, f.get_bool(key));
  return Status();
}

Status read_arrays(const GgufFile& f, Vocab& v) {
  CS_ASSIGN_OR_RETURN(auto tokens, f.string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return key_error(f, "tokenizer.ggml.tokens", "empty vocabulary");
  v.tokens.assign(tokens.begin(), tokens.end());
  const std::size_t n = v.tokens.size();
  if (f.has("tokenizer.ggml.scores")) {
    CS_ASSIGN_OR_RETURN(v.scores, f.f32_array("tokenizer.ggml.scores"));
    if (v.scores.size() < n) return key_error(f, "tokenizer.ggml.scores", "fewer scores than tokens");
    v.scores.resize(n);
  }
  if (f.has("tokenizer.ggml.token_type")) {
    CS_ASSIGN_OR_RETURN(auto types, f.i32_array("tokenizer.ggml.token_type"));
    if (types.size() < n) return key_error(f, "tokenizer.ggml.token_type", "fewer token types than tokens");
    v.token_types.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t t = types[i];
      v.token_types.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::kUndefined);
    }
  }
  if (v.type == VocabType::kBpe) {
    if (!f.has("tokenizer.ggml.merges")) return key_error(f, "tokenizer.ggml.merges", "missing (a gpt2 vocabulary needs merges)");
    CS_ASSIGN_OR_RETURN(auto merges, f.string_array("tokenizer.ggml.merges"));
    v.merges.assign(merges.begin(), merges.end());
  }
  return Status();
}

}  // namespace

std::string_view supported_pre_tokenizers() {
  return "llama3, llama-v3, llama-bpe, falcon3 (Llama-3 regex); gpt-2, phi-2, mpt, olmo (GPT-2 regex)";
}

Status apply_vocab_defaults(Vocab& v, VocabType type, std::string_view pre_name) {
  v.type = type;
  if (type == VocabType::kSpm) {
    v.pre = PreTokenizer::kNone;
    v.pre_name.clear();
    v.bos = 1;
    v.eos = 2;
    v.unk = 0;
    v.add_bos = true;
    v.add_eos = false;
    v.add_space_prefix = true;
    v.clean_spaces = false;
    v.ignore_merges = false;
    return Status();
  }
  v.pre_name = std::string(pre_name);
  v.bos = 11;
  v.eos = 11;
  v.unk = kNoToken;
  v.add_bos = false;
  v.add_eos = false;
  v.add_space_prefix = false;
  v.clean_spaces = true;
  v.ignore_merges = false;
  if (one_of(pre_name, kLlama3Names)) {
    v.pre = PreTokenizer::kLlama3;
    v.ignore_merges = true;
    v.add_bos = true;
  } else if (one_of(pre_name, kGpt2Names)) {
    v.pre = PreTokenizer::kGpt2;
  } else {
    return invalid_argument("unsupported pre-tokenizer '" + std::string(pre_name) +
                            "' (supported: " + std::string(supported_pre_tokenizers()) + ")");
  }
  return Status();
}

Result<Vocab> vocab_from_gguf(const GgufFile& f) {
  CS_ASSIGN_OR_RETURN(const std::string_view model, f.get_string("tokenizer.ggml.model"));
  Vocab v;
  std::string_view pre;
  if (f.has("tokenizer.ggml.pre")) {
    CS_ASSIGN_OR_RETURN(pre, f.get_string("tokenizer.ggml.pre"));
  }
  if (model == "llama") {
    CS_RETURN_IF_ERROR(apply_vocab_defaults(v, VocabType::kSpm, pre));
  } else if (model == "gpt2") {
    if (pre.empty() || pre == "default")
      return key_error(f, "tokenizer.ggml.pre", "'" + std::string(pre) + "' is not supported (supported: " +
                                                    std::string(supported_pre_tokenizers()) + ")");
    Status s = apply_vocab_defaults(v, VocabType::kBpe, pre);
    if (!s.is_ok()) return key_error(f, "tokenizer.ggml.pre", s.message());
  } else {
    return key_error(f, "tokenizer.ggml.model", "unsupported tokenizer '" + std::string(model) +
                                                    "' (supported: llama, gpt2)");
  }
  CS_RETURN_IF_ERROR(read_arrays(f, v));
  const std::size_t n = v.tokens.size();
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.bos_token_id", v.bos, n));
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.eos_token_id", v.eos, n));
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.eot_token_id", v.eot, n));
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.eom_token_id", v.eom, n));
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.unknown_token_id", v.unk, n));
  CS_RETURN_IF_ERROR(read_special_id(f, "tokenizer.ggml.padding_token_id", v.pad, n));
  CS_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_bos_token", v.add_bos));
  CS_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_eos_token", v.add_eos));
  CS_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));
  if (f.has("tokenizer.chat_template")) {
    CS_ASSIGN_OR_RETURN(const std::string_view tmpl, f.get_string("tokenizer.chat_template"));
    v.chat_template = std::string(tmpl);
  }
  return v;
}

}  // namespace chatscale::engine
