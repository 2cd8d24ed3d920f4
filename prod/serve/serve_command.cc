#include "prod/serve/serve_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "prod/runtime/signal_watcher.h"
#include "prod/serve/chat_server.h"

namespace chatscale::serve {
namespace {

// Every connection is a file descriptor: raises the soft open-files limit to max_connections plus a
// reserve (database and Redis connections, logs, the listener), up to the hard limit, and beyond it
// when the process may (root). Says so when the limit stays below what the configuration allows.
void raise_open_files_limit(std::int64_t max_connections) {
  constexpr rlim_t kReserve = 1024;
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + kReserve;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  rlimit raised{wanted, std::max(limit.rlim_max, wanted)};
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = {std::min(wanted, limit.rlim_max), limit.rlim_max};
    if (raised.rlim_cur > limit.rlim_cur) setrlimit(RLIMIT_NOFILE, &raised);
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted)
    std::cerr << "serve: open-files limit " << limit.rlim_cur << " (hard " << limit.rlim_max << ") is below limits."
              << "max_connections " << max_connections << " + " << kReserve
              << ": raise it (ulimit -n) to hold that many streams\n";
}

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  std::string config_path;
  std::int64_t port = -1;
  cli::ArgParser parser("chatscale serve",
                        "Runs the chat service: HTTP API with SSE streams, an OpenAI-compatible\n"
                        "/v1/chat/completions, /healthz, /readyz and /metrics, configured by serve.yaml\n"
                        "(see prod/serve/serve_config.h). SIGINT/SIGTERM drain it gracefully.");
  parser.option("--config", "FILE", &config_path, "the serve.yaml to run (required)");
  parser.option("--port", "P", &port, "listen on this port instead of listen.port (0: any free port)");
  if (Status s = parser.parse(args); !s.is_ok()) return cli::report_bad_input("serve", s.message());
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return cli::kExitOk;
  }
  if (config_path.empty()) return cli::report_bad_input("serve", "--config FILE is required (see chatscale serve --help)");
  if (port < -1 || port > 65535) return cli::report_bad_input("serve", "--port: must be between 0 and 65535");
  auto config = load_serve_config(config_path);
  if (!config.is_ok()) return cli::report_bad_input("serve", config.status().message());
  if (port >= 0) config->listen.port = static_cast<int>(port);
  raise_open_files_limit(config->limits.max_connections);

  // Before any thread exists, so that every thread inherits the mask and only the watcher gets them.
  block_stop_signals();

  auto server = ChatServer::create(std::move(config).value(), std::cerr);
  if (!server.is_ok()) {
    std::cerr << "serve: " << server.status().message() << "\n";
    return server.status().code() == StatusCode::kInvalidArgument ? cli::kExitBadInput : cli::kExitFailure;
  }
  auto& chat = **server;
  if (Status started = chat.start(); !started.is_ok()) {
    std::cerr << "serve: " << started.message() << "\n";
    return cli::kExitFailure;
  }
  std::cout << "listening on " << chat.host() << ":" << chat.port() << std::endl;
  {
    SignalWatcher watcher("serve", [&chat](bool drain) { chat.shutdown(/*graceful=*/drain); });
    chat.run();
  }
  std::cerr << "serve: stopped\n";
  return cli::kExitOk;
}

}  // namespace chatscale::serve
