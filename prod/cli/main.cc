// chatscale: one binary, one subcommand per job. Exit codes: 0 success, 1 failure, 2 bad input.
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gpu_command.h"
#include "prod/db/migrate_command.h"
#include "prod/engine/model/model_command.h"
#if defined(CHATSCALE_ENGINE_SERVER)
#include "prod/engine/server/engine_server.h"
#endif
#if defined(CHATSCALE_ENGINE_PROFILE)
#include "prod/engine/profile/profile_command.h"
#endif
#include "prod/serve/serve_command.h"
#include "sim/runner/sim_command.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"sim", "simulate a scenario on SimGrid and write its report (summary.json, report.md, figures, metrics)",
     chatscale::sim::sim_command},
    {"gpu", "GPU iteration-time model: `gpu predict` prints one iteration's milliseconds from a calibration",
     chatscale::cli::gpu_command},
    {"plan", "first-principles capacity plan of a scenario (validates it, prints the arithmetic)",
     chatscale::cli::plan_command},
    {"moderate", "classify texts with the moderation component, or measure it on a labelled set",
     chatscale::cli::moderate_command},
    {"serve", "run the chat service (HTTP API, SSE streams, OpenAI-compatible API) from serve.yaml",
     chatscale::serve::serve_command},
    {"migrate", "apply the PostgreSQL schema migrations embedded in this binary (--dsn DSN or --config serve.yaml)",
     chatscale::db::migrate_command},
    {"model", "random-weight Llama models (`model random --shape SHAPE.yaml --out FILE.gguf`) and `model info FILE.gguf`",
     chatscale::engine::model_command},
#if defined(CHATSCALE_ENGINE_SERVER)
    {"engine", "serve a GGUF model with the project's own engine: OpenAI-compatible /v1/chat/completions (`engine --model FILE.gguf`)",
     chatscale::engine::engine_command},
#endif
#if defined(CHATSCALE_ENGINE_PROFILE)
    {"profile", "time the engine's prefill and decode iterations over a grid and write a chatscale-gpu-profile/1 calibration (`profile --model FILE.gguf --out PROFILE.json`)",
     chatscale::engine::profile_command},
#endif
};

void usage(std::ostream& out) {
  out << "usage: chatscale COMMAND [options]\n\n"
         "Capacity planning and serving for a ChatGPT-scale chat service.\n\ncommands:\n";
  for (const auto& c : kCommands) out << "  " << c.name << "\n      " << c.summary << "\n";
  out << "\n`chatscale COMMAND --help` describes each command.\n"
         "Exit codes: 0 success, 1 failure, 2 bad input (file:line: field: problem).\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? chatscale::cli::kExitBadInput : chatscale::cli::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (args[0] == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "chatscale: unknown command \"" << args[0] << "\" (see chatscale --help)\n";
  return chatscale::cli::kExitBadInput;
}
