// chatscale_loadgen: the load generator behind scripts/bench-serve. One process, one or a few I/O
// threads, C++20 coroutines over Boost.Asio/Beast, no thread per connection. See bench_modes.h for
// what `rate` and `streams` measure and usage() for the flags.
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench_modes.h"

namespace chatscale::bench {

void emit_json(const CommonOptions& common, const std::string& line) {
  std::cout << line << std::endl;
  if (common.json_out.empty()) return;
  std::ofstream out(common.json_out, std::ios::app);
  out << line << "\n";
}

std::string message_target(const CommonOptions& common, const BenchConversation& c) {
  return common.openai ? "/v1/chat/completions" : "/conversations/" + c.id + "/messages";
}

std::string message_body(const CommonOptions& common, std::size_t n) {
  std::string content = "Load test message " + std::to_string(n) + ": please describe a quiet garden in spring.";
  nlohmann::json body;
  if (common.openai) {
    body = {{"model", common.model}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", content}}}}};
  } else {
    body = {{"content", content}};
  }
  if (common.max_tokens > 0) body["max_tokens"] = common.max_tokens;
  return body.dump();
}

}  // namespace chatscale::bench

namespace {

using namespace chatscale::bench;

const char* kUsage = R"(usage: chatscale_loadgen MODE --port P [options]

modes:
  rate      open-loop messages at each --rate (msg/s) for --duration s after --warmup s; per message:
            TTFT (scheduled send -> first delta) and total (-> done), statuses, errors
  streams   open --streams N concurrent SSE streams in batches, hold them --hold s, report how many
            are established and still open and the server's RSS (--server-pid) before and after

common:
  --host H                     server address (127.0.0.1)
  --port P                     server port (required)
  --users N                    users to register (rate: 200 per step; streams: streams / conversations-per-user)
  --conversations-per-user K   (rate: 10; streams: 100)
  --email-prefix S             users are S-<i>@bench.example (default: loadgen-<pid>-<time>)
  --setup-parallel N           set-up requests in flight (32)
  --openai                     POST /v1/chat/completions (stream: true) instead of /conversations/{id}/messages
  --model M                    model for --openai (default)
  --max-tokens N               cap each answer (default: the server's)
  --json-out FILE              also append the JSON result lines to FILE
  --label S                    copied into the JSON lines
  --server-pid PID             the server's process: its CPU time per rate step, its VmRSS (streams)
  --database-pids P[,P...]     PostgreSQL postmasters and redis-server: their CPU (children included) per rate step
rate:
  --rate R[,R...]              messages/s, one step per value (required)
  --duration S (20)  --warmup S (5)  --drain-timeout S (30)
  --io-threads N (1)           shards with their own connections and conversations
  --max-connections N (4000)   --prefill N (connections opened ahead; default from the rate)
streams:
  --streams N (1000)  --hold S (30)  --batch N (500)  --batch-timeout S (30)
  --source-addresses K (1)     spread connections over 127.0.0.1..127.0.0.K (more ephemeral ports)
  --no-stop                    leave the generations running at the end (default: POST .../stop each)
  --stop-timeout S (30)        stop for at most S seconds, then just disconnect the rest
)";

bool parse_number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0';
}

template <typename T>
bool parse_integer(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct Parsed {
  std::string mode;
  CommonOptions common;
  RateOptions rate;
  StreamsOptions streams;
  bool users_given = false;
  bool per_user_given = false;
};

// Applies one `--flag value` (or bare flag); false with `error` set when it is unknown or invalid.
bool apply_flag(Parsed& p, const std::string& flag, const std::function<const char*()>& value, std::string& error) {
  auto text = [&]() -> std::string {
    const char* v = value();
    if (!v) error = flag + ": needs a value";
    return v ? v : "";
  };
  auto integer = [&](auto& out) {
    std::string v = text();
    if (error.empty() && !parse_integer(v, out)) error = flag + ": not a whole number: " + v;
  };
  auto number = [&](double& out) {
    std::string v = text();
    if (error.empty() && !parse_number(v, out)) error = flag + ": not a number: " + v;
  };
  auto& c = p.common;
  if (flag == "--host") c.host = text();
  else if (flag == "--port") integer(c.port);
  else if (flag == "--users") integer(c.setup.users), p.users_given = true;
  else if (flag == "--conversations-per-user") integer(c.setup.conversations_per_user), p.per_user_given = true;
  else if (flag == "--email-prefix") c.setup.email_prefix = text();
  else if (flag == "--setup-parallel") integer(c.setup.parallel);
  else if (flag == "--openai") c.openai = true;
  else if (flag == "--model") c.model = text();
  else if (flag == "--max-tokens") integer(c.max_tokens);
  else if (flag == "--json-out") c.json_out = text();
  else if (flag == "--label") c.label = text();
  else if (flag == "--rate") {
    std::stringstream list(text());
    for (std::string item; error.empty() && std::getline(list, item, ',');) {
      double r = 0;
      if (!parse_number(item, r) || r <= 0) error = "--rate: not a positive number: " + item;
      p.rate.rates.push_back(r);
    }
  } else if (flag == "--duration") number(p.rate.duration_s);
  else if (flag == "--warmup") number(p.rate.warmup_s);
  else if (flag == "--drain-timeout") number(p.rate.drain_timeout_s);
  else if (flag == "--io-threads") integer(p.rate.io_threads);
  else if (flag == "--max-connections") integer(p.rate.max_connections);
  else if (flag == "--prefill") integer(p.rate.prefill);
  else if (flag == "--streams") integer(p.streams.streams);
  else if (flag == "--hold") number(p.streams.hold_s);
  else if (flag == "--batch") integer(p.streams.batch);
  else if (flag == "--batch-timeout") number(p.streams.batch_timeout_s);
  else if (flag == "--server-pid") integer(c.server_pid);
  else if (flag == "--database-pids") {
    std::stringstream list(text());
    for (std::string item; error.empty() && std::getline(list, item, ',');) {
      long pid = 0;
      if (!parse_integer(item, pid) || pid <= 0) error = "--database-pids: not a process id: " + item;
      c.database_pids.push_back(pid);
    }
  }
  else if (flag == "--source-addresses") integer(p.streams.source_addresses);
  else if (flag == "--no-stop") p.streams.stop_generations = false;
  else if (flag == "--stop-timeout") number(p.streams.stop_timeout_s);
  else error = "unknown option " + flag;
  return error.empty();
}

// Fills the defaults that depend on the mode and checks what is required.
std::string finish(Parsed& p) {
  if (p.mode != "rate" && p.mode != "streams") return "MODE must be rate or streams";
  if (p.common.port == 0) return "--port is required";
  auto& setup = p.common.setup;
  if (p.common.setup.email_prefix == "bench")
    setup.email_prefix = "loadgen-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
  if (p.mode == "rate") {
    if (p.rate.rates.empty()) return "rate: --rate is required";
    if (p.rate.io_threads < 1 || p.rate.io_threads > 16) return "--io-threads: 1 to 16";
    if (!p.users_given) setup.users = 200;
    if (!p.per_user_given) setup.conversations_per_user = 10;
  } else {
    if (!p.per_user_given) setup.conversations_per_user = 100;
    if (setup.conversations_per_user == 0) return "--conversations-per-user: at least 1";
    if (!p.users_given) setup.users = (p.streams.streams + setup.conversations_per_user - 1) / setup.conversations_per_user;
    if (p.streams.batch == 0) return "--batch: at least 1";
    if (p.streams.source_addresses < 1 || p.streams.source_addresses > 250) return "--source-addresses: 1 to 250";
  }
  if (setup.users * setup.conversations_per_user == 0) return "no conversations: --users and --conversations-per-user must be positive";
  return "";
}

// Lifts the open-file limit to its hard maximum (each connection is a descriptor).
void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  std::cerr << "loadgen: open files limit " << limit.rlim_cur << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Parsed p;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  p.mode = args[0];
  std::string error;
  for (std::size_t i = 1; i < args.size() && error.empty(); ++i) {
    std::size_t at = i;
    auto value = [&]() -> const char* { return at + 1 < args.size() ? args[i = at + 1].c_str() : nullptr; };
    apply_flag(p, args[at], value, error);
  }
  if (error.empty()) error = finish(p);
  if (!error.empty()) {
    std::cerr << "chatscale_loadgen: " << error << "\n(see chatscale_loadgen --help)\n";
    return 2;
  }
  raise_file_limit();
  try {
    return p.mode == "rate" ? run_rate(p.common, p.rate) : run_streams(p.common, p.streams);
  } catch (const std::exception& e) {
    std::cerr << "chatscale_loadgen: " << e.what() << "\n";
    return 1;
  }
}
