#include "cli/gpu_command.h"

#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "gpu/gpu_profile.h"
#include "gpu/iteration_time_model.h"
#include "gpu/shapes.h"

namespace chatscale::cli {
namespace {

struct PredictArgs {
  std::string subcommand, calibration, model, phase, profile_model;
  std::int64_t batch = 0, context = 0, tp = 1;
  bool per_layer = false;
};

ArgParser make_parser(PredictArgs& a) {
  ArgParser p("chatscale gpu",
              "predict: fits the GPU iteration-time model to a calibration profile and prints the predicted\n"
              "milliseconds of one iteration (one number). decode: BATCH sequences of one new token over a\n"
              "KV cache of CONTEXT tokens; prefill: BATCH prompts of CONTEXT tokens each.");
  p.positional("predict", &a.subcommand, "the subcommand (only \"predict\")");
  p.option("--calibration", "FILE", &a.calibration, "GPU profile, chatscale-gpu-profile/1 JSON");
  p.option("--model", "MODEL.yaml", &a.model, "model shape: hidden, heads, kv_heads, head_dim, ffn, layers, vocab, "
                                             "dtype_bytes");
  p.option("--phase", "prefill|decode", &a.phase, "what the iteration does");
  p.option("--batch", "B", &a.batch, "sequences in the iteration");
  p.option("--context", "C", &a.context, "decode: KV-cache length; prefill: prompt tokens");
  p.option("--tp", "N", &a.tp, "tensor-parallel degree (default 1)");
  p.option("--profile-model", "NAME", &a.profile_model, "which model of the profile to fit on (default: its only one)");
  p.flag("--per-layer", &a.per_layer, "one decoder layer, without the LM head");
  return p;
}

Status check_args(const PredictArgs& a) {
  if (a.subcommand != "predict") {
    return invalid_argument("chatscale gpu: unknown subcommand \"" + a.subcommand + "\" (expected predict)");
  }
  if (a.calibration.empty()) return invalid_argument("chatscale gpu predict: --calibration FILE is required");
  if (a.model.empty()) return invalid_argument("chatscale gpu predict: --model MODEL.yaml is required");
  if (a.phase != "prefill" && a.phase != "decode") {
    return invalid_argument("chatscale gpu predict: --phase must be prefill or decode, got \"" + a.phase + "\"");
  }
  if (a.batch < 1) return invalid_argument("chatscale gpu predict: --batch must be at least 1");
  if (a.context < 1) return invalid_argument("chatscale gpu predict: --context must be at least 1");
  if (a.tp < 1 || a.tp > 1024) return invalid_argument("chatscale gpu predict: --tp must be between 1 and 1024");
  return Status::ok();
}

Result<std::string> profile_model_name(const GpuProfile& profile, const std::string& requested) {
  if (!requested.empty()) return requested;
  if (profile.models.size() == 1) return profile.models.front().name;
  return invalid_argument(profile.source + ": models: the profile has " + std::to_string(profile.models.size()) +
                          " models; choose one with --profile-model");
}

Result<double> predict(const PredictArgs& a) {
  CS_ASSIGN_OR_RETURN(ModelShape shape, load_model_shape_file(a.model));
  const int tp = static_cast<int>(a.tp);
  if (Status s = check_tensor_parallel(shape, tp); !s.is_ok()) {
    return invalid_argument("chatscale gpu predict: --" + s.message());
  }
  CS_ASSIGN_OR_RETURN(GpuProfile profile, load_gpu_profile(a.calibration));
  CS_ASSIGN_OR_RETURN(std::string fit_on, profile_model_name(profile, a.profile_model));
  CS_ASSIGN_OR_RETURN(IterationTimeModel model, IterationTimeModel::calibrate(profile, fit_on));
  const IterationShape it = a.phase == "decode" ? IterationShape::decode(a.batch, a.context)
                                                : IterationShape::prefill(a.batch, a.context);
  return a.per_layer ? model.layer_ms(shape, it, tp) : model.predict_ms(shape, it, tp);
}

}  // namespace

int gpu_command(const std::vector<std::string>& args) {
  PredictArgs a;
  ArgParser parser = make_parser(a);
  if (Status s = parser.parse(args); !s.is_ok()) {
    std::cerr << s.message() << "\n";
    return kExitBadInput;
  }
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return kExitOk;
  }
  if (Status s = check_args(a); !s.is_ok()) {
    std::cerr << s.message() << "\n";
    return kExitBadInput;
  }
  auto ms = predict(a);
  if (!ms.is_ok()) {
    std::cerr << ms.status().message() << "\n";
    return kExitBadInput;
  }
  std::printf("%.4f\n", *ms);
  return kExitOk;
}

}  // namespace chatscale::cli
