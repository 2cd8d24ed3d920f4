// `chatscale profile`. See profile_command.h.
#include "prod/engine/profile/profile_command.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "gpu/gpu_profile.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/profile/cpu_device.h"
#include "prod/engine/profile/profile_json.h"
#include "prod/engine/profile/profiler.h"
#if defined(CHATSCALE_ENGINE_CUDA)
#include "prod/engine/cuda/cuda_devices.h"
#include "prod/engine/cuda/cuda_profile_backend.h"
#endif

namespace chatscale::engine {
namespace {

constexpr int kOk = 0, kFailure = 1, kBadInput = 2;

constexpr const char* kUsage =
    "usage: chatscale profile --model FILE.gguf --out PROFILE.json [--device cpu|cuda] [--threads N]\n"
    "         [--batches 1,2,4,8,16] [--contexts 128,512,2048] [--prefill-lengths 128,512,2048]\n"
    "         [--prefill-batches 1] [--repeats 5] [--warmup 2] [--block-size 16] [--kv-gib X]\n"
    "         [--name NAME] [--quick]\n"
    "Times decode iterations (B sequences of one new token over C cached positions, random K/V) and\n"
    "prefill iterations (B sequences of L tokens) on the engine's backend, median of --repeats after\n"
    "--warmup runs, and writes format chatscale-gpu-profile/1 (per-layer and LM-head milliseconds, the\n"
    "device's measured copy bandwidth and FLOP rate) for `chatscale gpu predict --calibration`.\n"
    "--quick: batches 1,2, contexts 32,128, prefill lengths 32,128, 2 repeats, 1 warm-up, short device\n"
    "benchmarks (flags given explicitly still win). --kv-gib: KV cache budget (default: cpu half the RAM,\n"
    "cuda none). --device cuda needs a build with the CUDA engine and a GPU (bf16 weights and KV cache).\n"
    "Default grid points past the model's context length are dropped (with a note); explicit ones fail.\n";

int bad(const std::string& m) {
  std::cerr << "chatscale profile: " << m << "\n";
  return kBadInput;
}

bool parse_int(const std::string& s, std::int64_t* out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "1,2,4" -> {1, 2, 4}; false on an empty list, an empty item or a non-integer.
bool parse_list(const std::string& s, std::vector<std::int64_t>* out) {
  out->clear();
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    std::int64_t x = 0;
    if (!parse_int(s.substr(start, comma - start), &x)) return false;
    out->push_back(x);
    start = comma + 1;
  }
  return !out->empty();
}

struct Options {
  std::string model, out, device = "cpu", name;
  int threads = 0;
  std::int64_t block_size = 16;
  double kv_gib = 0;
  bool quick = false;
  ProfileGrid grid;
  bool batches = false, contexts = false, lengths = false, repeats = false, warmup = false;
};

// Returns kOk to go on, or the exit code (help printed, or a bad flag reported).
int parse_args(const std::vector<std::string>& args, Options& o, bool& help) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    auto value = [&] {
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    std::int64_t n = 0;
    if (a == "--help" || a == "-h") { help = true; return kOk; }
    if (a == "--quick") { o.quick = true; continue; }
    if (!value()) return bad(a.rfind("--", 0) == 0 ? a + " needs a value (or is unknown: see --help)"
                                                   : "unexpected argument \"" + a + "\" (see --help)");
    const bool list_flag = a == "--batches" || a == "--contexts" || a == "--prefill-lengths" || a == "--prefill-batches";
    if (list_flag && v.empty()) return bad(a + ": the list is empty");
    if (a == "--model") o.model = v;
    else if (a == "--out") o.out = v;
    else if (a == "--device") o.device = v;
    else if (a == "--name") o.name = v;
    else if (a == "--batches") { if (!parse_list(v, &o.grid.batches)) return bad("--batches: not a list of integers: \"" + v + "\""); o.batches = true; }
    else if (a == "--contexts") { if (!parse_list(v, &o.grid.contexts)) return bad("--contexts: not a list of integers: \"" + v + "\""); o.contexts = true; }
    else if (a == "--prefill-lengths") { if (!parse_list(v, &o.grid.prefill_lengths)) return bad("--prefill-lengths: not a list of integers: \"" + v + "\""); o.lengths = true; }
    else if (a == "--prefill-batches") { if (!parse_list(v, &o.grid.prefill_batches)) return bad("--prefill-batches: not a list of integers: \"" + v + "\""); }
    else if (a == "--threads" || a == "--repeats" || a == "--warmup" || a == "--block-size") {
      if (!parse_int(v, &n) || n < 0 || n > 1'000'000) return bad(a + ": not a non-negative integer: \"" + v + "\"");
      if (a == "--threads") o.threads = static_cast<int>(std::min<std::int64_t>(n, 1024));
      else if (a == "--repeats") { o.grid.repeats = static_cast<int>(n); o.repeats = true; }
      else if (a == "--warmup") { o.grid.warmup = static_cast<int>(n); o.warmup = true; }
      else o.block_size = n;
    } else if (a == "--kv-gib") {
      char* end = nullptr;
      o.kv_gib = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(o.kv_gib > 0)) return bad("--kv-gib: not a positive number: \"" + v + "\"");
    } else {
      return bad("unknown option \"" + a + "\" (see chatscale profile --help)");
    }
  }
  return kOk;
}

// Fills the grid lists not given on the command line; default points past the context are dropped.
void apply_defaults(Options& o, std::int64_t context_length) {
  auto fill = [&](bool given, std::vector<std::int64_t>& list, std::vector<std::int64_t> def, std::int64_t extra,
                  const char* what) {
    if (given) return;
    list.clear();
    for (std::int64_t x : def) {
      if (x + extra <= context_length) list.push_back(x);
      else std::cerr << "chatscale profile: note: default " << what << " " << x << " dropped (context length "
                     << context_length << ")\n";
    }
  };
  fill(o.batches, o.grid.batches, o.quick ? std::vector<std::int64_t>{1, 2} : std::vector<std::int64_t>{1, 2, 4, 8, 16}, 0, "batch");
  fill(o.contexts, o.grid.contexts, o.quick ? std::vector<std::int64_t>{32, 128} : std::vector<std::int64_t>{128, 512, 2048}, 1, "context");
  fill(o.lengths, o.grid.prefill_lengths, o.quick ? std::vector<std::int64_t>{32, 128} : std::vector<std::int64_t>{128, 512, 2048}, 0, "prefill length");
  if (!o.repeats) o.grid.repeats = o.quick ? 2 : 5;
  if (!o.warmup) o.grid.warmup = o.quick ? 1 : 2;
}

void print_point(const ProfilePoint& p) {
  std::printf("%-7s %-12s layer %10.4f ms   all layers %10.3f ms   with LM head %10.3f ms\n",
              p.phase == ProfilePhase::kDecode ? "decode" : "prefill", p.key().c_str(), p.layer_ms, p.layers_ms,
              p.with_head_ms);
  std::fflush(stdout);
}

std::string measured_with(const ProfileResult& r, const std::string& model_path) {
  if (r.device.kind == "cuda") {
    return "chatscale profile, engine CUDA backend on " + r.device.name + " (bf16 weights, cuBLAS GEMMs, decode as "
           "CUDA graphs), model " + std::filesystem::path(model_path).filename().string() + ", KV cache " +
           r.device.kv_dtype + ", median of " + std::to_string(r.grid.repeats) + " after " +
           std::to_string(r.grid.warmup) + " warm-up; gemm_8192_bf16_TFLOPs: " + r.device.flops_method;
  }
  return "chatscale profile, engine CPU backend, " + std::to_string(r.device.threads) + " threads, model " +
         std::filesystem::path(model_path).filename().string() + ", KV cache " + r.device.kv_dtype +
         ", median of " + std::to_string(r.grid.repeats) + " after " + std::to_string(r.grid.warmup) +
         " warm-up; gemm_8192_bf16_TFLOPs holds the CPU's f32 FMA peak (" + r.device.flops_method + ")";
}

// kOk when this build and machine can profile on `device`, else the exit code (message printed).
int check_device(const std::string& device) {
  if (device == "cpu") return kOk;
  if (device != "cuda") return bad("--device: must be cpu or cuda, got \"" + device + "\"");
#if defined(CHATSCALE_ENGINE_CUDA)
  auto devices = gpu::cuda_devices();
  if (!devices.is_ok()) return bad("--device cuda: no CUDA device: " + devices.status().message());
  return kOk;
#else
  return bad("--device cuda: this build has no CUDA backend (configure with -DCHATSCALE_CUDA=ON on a machine with "
             "the CUDA toolkit)");
#endif
}

Result<ProfileResult> run_profile(const Options& o, const LlamaModel& model) {
#if defined(CHATSCALE_ENGINE_CUDA)
  if (o.device == "cuda") {
    gpu::CudaProfileOptions cuda;
    cuda.block_size = static_cast<std::int32_t>(o.block_size);
    cuda.kv_budget_bytes = o.kv_gib > 0 ? o.kv_gib * 1073741824.0 : 0;
    cuda.quick_device = o.quick;
    return gpu::profile_cuda(model.config, model.weights, o.grid, cuda, print_point);
  }
#endif
  CpuProfileOptions cpu;
  cpu.threads = o.threads;
  cpu.block_size = static_cast<std::int32_t>(o.block_size);
  cpu.kv_budget_bytes = o.kv_gib > 0 ? o.kv_gib * 1073741824.0 : 0.5 * physical_memory_bytes();
  cpu.quick_device = o.quick;
  return profile_cpu(model.config, model.weights, o.grid, cpu, print_point);
}

int write_and_check(const std::string& path, const std::string& json, std::size_t expected_points) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << json;
    if (!out.flush()) {
      std::cerr << "chatscale profile: cannot write " << path << "\n";
      return kFailure;
    }
  }
  auto loaded = load_gpu_profile(path);
  if (!loaded.is_ok() || loaded->models.size() != 1 || loaded->models[0].points.size() != expected_points) {
    std::cerr << "chatscale profile: the written profile does not load back: "
              << (loaded.is_ok() ? "wrong number of points" : loaded.status().message()) << "\n";
    return kFailure;
  }
  return kOk;
}

}  // namespace

int profile_command(const std::vector<std::string>& args) {
  Options o;
  bool help = false;
  if (const int rc = parse_args(args, o, help); rc != kOk) return rc;
  if (help) {
    std::cout << kUsage;
    return kOk;
  }
  if (o.model.empty()) return bad("--model FILE.gguf is required");
  if (o.out.empty()) return bad("--out PROFILE.json is required");
  if (const int rc = check_device(o.device); rc != kOk) return rc;
  if (o.block_size <= 0 || o.block_size > 4096) return bad("--block-size: must be in [1, 4096]");
  auto model = load_llama_file(o.model);
  if (!model.is_ok()) return bad(model.status().message());
  apply_defaults(o, model->config.context_length);
  if (o.name.empty()) o.name = std::filesystem::path(o.model).stem().string();
  auto result = run_profile(o, *model);
  if (!result.is_ok()) {
    std::cerr << "chatscale profile: " << result.status().message() << "\n";
    return result.status().code() == StatusCode::kInvalidArgument ? kBadInput : kFailure;
  }
  const std::string json = profile_json(*result, o.name, weight_dtype_bytes(model->weights), measured_with(*result, o.model));
  std::size_t format_points = result->lm_head.size();
  for (const ProfilePoint& p : result->points) format_points += (p.phase == ProfilePhase::kDecode || p.batch == 1) ? 1 : 0;
  if (const int rc = write_and_check(o.out, json, format_points); rc != kOk) return rc;
  std::printf("device: %s; copy %.1f GB/s; peak %.1f GFLOP/s %s\n", result->device.name.c_str(),
              result->device.copy_bytes_per_s / 1e9, result->device.peak_flops / 1e9,
              result->device.kind == "cuda" ? "bf16 GEMM" : "f32");
  for (const LmHeadPoint& h : result->lm_head) {
    std::printf("lm_head B%-5lld %10.4f ms%s\n", static_cast<long long>(h.batch), h.ms, h.clamped ? " (floored)" : "");
  }
  std::printf("wrote %s (%zu points)\n", o.out.c_str(), format_points);
  return kOk;
}

}  // namespace chatscale::engine
