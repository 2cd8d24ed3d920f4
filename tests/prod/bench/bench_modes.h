// The two measurements of chatscale_loadgen (tests/prod/bench), each a function from options to
// printed results:
//   rate    open-loop messages at target rates (one step per rate), each step over users and
//           conversations created for it beforehand (untimed);
//           per message the time from its scheduled send to the first delta (TTFT as the client sees
//           it) and to the final event, HTTP statuses and errors.
//   streams N concurrent SSE streams against a slow backend, opened in batches and held; how many
//           were established and are still open at the end, and the server's RSS before and after.
// Each prints one JSON line per result (starting with {"mode":) and a human table on stdout, and
// appends the JSON lines to --json-out when given.
//
// Ownership: options are plain values. Thread-safety: each runs on the calling thread plus the I/O
// threads it starts and joins. Failure behaviour: returns a process exit status (0: it ran and every
// message or stream succeeded; 1: it ran but some failed, or set-up failed; the output says which).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench_setup.h"

namespace chatscale::bench {

struct CommonOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  SetupOptions setup;
  std::string json_out;    // append JSON lines here too ("" = stdout only)
  std::string label;       // copied into every JSON line
  bool openai = false;     // /v1/chat/completions instead of /conversations/{id}/messages
  std::string model = "default";
  long max_tokens = 0;     // 0 = leave it to the server
  long server_pid = 0;     // 0 = no server RSS or CPU figures
  std::vector<long> database_pids;  // postmasters and redis-server: their CPU (with children) per rate step
};

struct RateOptions {
  std::vector<double> rates;  // messages/s, one step each
  double warmup_s = 5;
  double duration_s = 20;
  double drain_timeout_s = 30;      // after the last send, in-flight messages get this long
  std::size_t io_threads = 1;       // shards, each with its own io_context, pool and conversations
  std::size_t max_connections = 4000;  // over all shards
  std::size_t prefill = 0;          // connections opened ahead of each step; 0 = from the rate
};

struct StreamsOptions {
  std::size_t streams = 1000;
  double hold_s = 30;
  std::size_t batch = 500;             // streams opened at once; the next batch waits for this one
  double batch_timeout_s = 30;         // a batch's streams that have no header by then count as failed
  std::size_t source_addresses = 1;    // spread connections over 127.0.0.1..127.0.0.K (1: no bind)
  bool stop_generations = true;        // POST .../stop for each stream at the end (messages endpoint)
  double stop_timeout_s = 30;          // stopping ends after this; the rest are just disconnected
};

int run_rate(const CommonOptions& common, const RateOptions& options);
int run_streams(const CommonOptions& common, const StreamsOptions& options);

// Writes a result line to stdout and to common.json_out.
void emit_json(const CommonOptions& common, const std::string& line);
// The request target and body for one message in conversation `c` (n numbers the content).
std::string message_target(const CommonOptions& common, const BenchConversation& c);
std::string message_body(const CommonOptions& common, std::size_t n);

}  // namespace chatscale::bench
