// The untimed set-up of a chatscale_loadgen run (tests/prod/bench): registers the benchmark's users
// (POST /auth/register; an e-mail that exists already signs in with POST /auth/login instead) and
// creates their conversations (POST /conversations), a bounded number of requests at a time.
//
// Ownership: returns plain values (bearer tokens and conversation ids). Thread-safety: runs on the
// pool's io_context thread. Failure behaviour: stops at the first refused or failed request and
// returns its status and body in `error`; no partial list is used by the caller.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench_client.h"

namespace chatscale::bench {

struct BenchConversation {
  std::string token;  // the owner's access token
  std::string id;
};

struct SetupOptions {
  std::size_t users = 100;
  std::size_t conversations_per_user = 10;
  std::string email_prefix = "bench";  // users are <prefix>-<i>@bench.example
  std::string password = "bench-password-0123456789";
  std::size_t parallel = 32;            // requests in flight
};

struct SetupReport {
  std::vector<BenchConversation> conversations;  // user-major: user 0's first, then user 1's, ...
  std::size_t registered = 0;
  std::size_t logged_in = 0;  // e-mail already registered: signed in instead
  double seconds = 0;
  std::string error;          // empty on success
};

net::awaitable<SetupReport> set_up_users(ConnectionPool& pool, const SetupOptions& options);

}  // namespace chatscale::bench
