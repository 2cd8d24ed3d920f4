// `chatscale model` subcommands. See model_command.h.
#include "prod/engine/model/model_command.h"

#include <charconv>
#include <iostream>
#include <map>

#include "prod/engine/gguf/gguf.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/model/random_model.h"

namespace chatscale::engine {

namespace {

constexpr int kOk = 0, kFailure = 1, kBadInput = 2;

constexpr const char* kUsage =
    "usage: chatscale model random --shape SHAPE.yaml --out FILE.gguf [--dtype f32|f16|bf16|q8_0] [--seed N]\n"
    "                              [--vocab VOCAB.gguf] [--untied] [--threads N]\n"
    "       chatscale model info FILE.gguf\n"
    "random: writes a random-weight Llama model of the shape (keys hidden, heads, kv_heads, head_dim, ffn,\n"
    "        layers, vocab, dtype_bytes; optional context_length, rope_theta, rms_eps, rope_scaling: llama3)\n"
    "        with a byte-level BPE tokenizer, or the tokenizer of VOCAB.gguf.\n"
    "info:   prints a GGUF model's architecture, shape, tensor dtypes, parameters and tokenizer.\n";

int bad(const std::string& m) {
  std::cerr << "chatscale model: " << m << "\n";
  return kBadInput;
}

bool parse_u64(const std::string& s, std::uint64_t* out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

int run_random(const std::vector<std::string>& args) {
  std::string shape_path, out, dtype_name;
  RandomModelOptions o;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* dst) {
      if (i + 1 >= args.size()) return false;
      *dst = args[++i];
      return true;
    };
    std::string tmp;
    if (a == "--shape") { if (!value(&shape_path)) return bad("--shape needs a value"); }
    else if (a == "--out") { if (!value(&out)) return bad("--out needs a value"); }
    else if (a == "--dtype") { if (!value(&dtype_name)) return bad("--dtype needs a value"); }
    else if (a == "--vocab") { if (!value(&o.vocab_path)) return bad("--vocab needs a value"); }
    else if (a == "--untied") { o.tied = false; }
    else if (a == "--seed" || a == "--threads") {
      std::uint64_t n = 0;
      if (!value(&tmp) || !parse_u64(tmp, &n)) return bad(a + " needs a non-negative integer");
      if (a == "--seed") o.seed = n; else o.threads = static_cast<int>(std::min<std::uint64_t>(n, 256));
    } else if (a == "--help" || a == "-h") { std::cout << kUsage; return kOk; }
    else return bad("unknown option \"" + a + "\" (see chatscale model --help)");
  }
  if (shape_path.empty()) return bad("random: --shape SHAPE.yaml is required");
  if (out.empty()) return bad("random: --out FILE.gguf is required");
  auto shape = read_shape_file(shape_path);
  if (!shape.is_ok()) return bad(shape.status().message());
  o.dtype = shape_default_dtype(*shape);
  if (!dtype_name.empty()) {
    auto d = parse_dtype(dtype_name);
    if (!d.is_ok()) return bad(d.status().message());
    o.dtype = *d;
  }
  const Status st = write_random_model(*shape, o, out);
  if (!st.is_ok()) {
    std::cerr << "chatscale model: " << st.message() << "\n";
    return st.code() == StatusCode::kInvalidArgument ? kBadInput : kFailure;
  }
  std::cout << "wrote " << out << "\n";
  return kOk;
}

void print_info(const GgufFile& f, const LlamaModel& m) {
  const LlamaConfig& c = m.config;
  auto str = [&](const char* key) {
    const GgufValue* v = f.find(key);
    return v != nullptr && v->type == GgufType::kString ? std::string(v->str) : std::string("-");
  };
  std::map<std::string, std::int64_t> dtypes;
  std::int64_t params = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    ++dtypes[std::string(dtype_name(t.view.dtype))];
    params += t.view.elements();
  }
  std::cout << "file: " << f.path() << " (GGUF v" << f.version() << ", " << f.file_size() << " bytes)\n"
            << "architecture: " << str("general.architecture") << "\nname: " << str("general.name") << "\n"
            << "shape: hidden " << c.hidden << ", layers " << c.layers << ", heads " << c.heads << ", kv_heads "
            << c.kv_heads << ", head_dim " << c.head_dim << ", ffn " << c.ffn << ", vocab " << c.vocab << "\n"
            << "context_length: " << c.context_length << "\nrope: theta " << c.rope_theta << ", dim " << c.rope_dim
            << (m.weights.rope_freqs.n_dims > 0 ? ", rope_freqs tensor" : "")
            << (c.rope_scaling == RopeScaling::kLlama3 ? ", llama3 scaling" : "") << "\nrms_eps: " << c.rms_eps << "\n"
            << "output: " << (m.tied_output ? "tied to token_embd" : "separate") << "\ntensors: " << f.tensors().size() << " (";
  bool first = true;
  for (const auto& [name, n] : dtypes) {
    std::cout << (first ? "" : ", ") << name << " " << n;
    first = false;
  }
  const GgufValue* toks = f.find("tokenizer.ggml.tokens");
  std::cout << ")\nparameters: " << params << "\ntokenizer: " << str("tokenizer.ggml.model") << " (pre "
            << str("tokenizer.ggml.pre") << "), vocab " << (toks != nullptr ? toks->count : 0) << ", chat template "
            << (f.has("tokenizer.chat_template") ? "yes" : "no") << "\n";
}

int run_info(const std::vector<std::string>& args) {
  if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) { std::cout << kUsage; return kOk; }
  if (args.size() != 2) return bad("info: expected one FILE.gguf argument");
  auto f = GgufFile::open(args[1]);
  if (!f.is_ok()) return bad(f.status().message());
  auto m = load_llama(*f);
  if (!m.is_ok()) return bad(m.status().message());
  print_info(*f, *m);
  return kOk;
}

}  // namespace

int model_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return kBadInput;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return kOk;
  }
  if (args[0] == "random") return run_random(args);
  if (args[0] == "info") return run_info(args);
  return bad("unknown subcommand \"" + args[0] + "\" (expected random or info)");
}

}  // namespace chatscale::engine
