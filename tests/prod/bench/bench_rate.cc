// `rate`: open-loop messages at target rates. Each I/O thread is a shard with its own io_context,
// connection pool and share of the conversations, so no lock is taken on the hot path; the shards'
// samples are merged after each step. Latencies are measured from each message's SCHEDULED send
// time, so a server (or a client) that falls behind shows up as latency, not as a lower rate.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench_modes.h"
#include "bench_stats.h"

namespace chatscale::bench {
namespace {

constexpr std::chrono::seconds kIdleTimeout(30);

double ms_between(SteadyTime from, SteadyTime to) { return std::chrono::duration<double, std::milli>(to - from).count(); }

SteadyTime after(SteadyTime t, double seconds) {
  return t + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

struct Step {
  double rate = 0;
  SteadyTime t0;            // the warm-up starts
  SteadyTime measure_from;  // messages scheduled from here on are measured
  SteadyTime measure_to;    // and up to here; nothing is scheduled after it
};

struct StepResult {
  LatencySamples ttft;   // scheduled send -> first delta
  LatencySamples total;  // scheduled send -> done
  LatencySamples lag;    // scheduled send -> the generator launched it (the client's own lateness)
  std::map<std::string, std::size_t> errors;
  std::map<std::string, std::string> error_examples;
  std::map<int, std::size_t> statuses;
  std::size_t sent = 0;
  std::size_t ok = 0;
  std::size_t done_in_window = 0;  // answers (measured or not) that completed inside the window
  std::size_t connections_opened = 0;
  CpuUse cpu;  // in the measured window

  void merge(const StepResult& other) {
    for (double v : other.ttft.values()) ttft.add(v);
    for (double v : other.total.values()) total.add(v);
    for (double v : other.lag.values()) lag.add(v);
    for (auto& [k, v] : other.errors) errors[k] += v;
    for (auto& [k, v] : other.error_examples) error_examples.emplace(k, v);
    for (auto& [k, v] : other.statuses) statuses[k] += v;
    sent += other.sent;
    ok += other.ok;
    done_in_window += other.done_in_window;
    connections_opened += other.connections_opened;
  }
};

// Names what went wrong with one message ("" when nothing did).
std::string failure_of(const StreamResult& r) {
  if (r.status == 0) return "transport";
  if (r.status != 200) return "http " + std::to_string(r.status);
  if (!r.error.empty()) return "stream cut";
  if (!r.done_at) return "no done event";
  if (r.done_error) return "done with error";
  if (!r.first_delta_at) return "no delta";
  return "";
}

class Shard {
 public:
  Shard(const CommonOptions& common, const RateOptions& options, tcp::endpoint server, std::size_t index,
        std::size_t count)
      : common_(common),
        options_(options),
        index_(index),
        count_(count),
        pool_(ioc_, server, std::max<std::size_t>(options.max_connections / count, 1)) {}

  net::io_context& ioc() { return ioc_; }
  ConnectionPool& pool() { return pool_; }
  std::vector<BenchConversation> conversations;

  // Runs `fn` (a coroutine) to completion on the calling thread.
  template <typename Fn>
  void run(Fn fn) {
    ioc_.restart();
    net::co_spawn(ioc_, fn(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    ioc_.run();
  }

  StepResult run_step(const Step& step) {
    StepResult result;
    std::size_t opened_before = pool_.opened_total();
    run([&]() -> net::awaitable<void> { co_await schedule(step, result); });
    result.connections_opened = pool_.opened_total() - opened_before;
    return result;
  }

 private:
  net::awaitable<void> schedule(const Step& step, StepResult& result) {
    WaitGroup group(ioc_);
    net::steady_timer timer(ioc_);
    for (std::size_t i = index_;; i += count_) {
      SteadyTime due = after(step.t0, static_cast<double>(i) / step.rate);
      if (due >= step.measure_to) break;
      if (due > SteadyClock::now()) {
        timer.expires_at(due);
        beast::error_code ignored;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
      }
      bool measured = due >= step.measure_from;
      if (measured) ++result.sent;
      group.add();
      net::co_spawn(ioc_, send_one(due, measured, step, result), [&group](std::exception_ptr) { group.done(); });
    }
    co_await group.wait();
  }

  net::awaitable<void> send_one(SteadyTime due, bool measured, const Step& step, StepResult& result) {
    const std::size_t n = next_++;
    const BenchConversation& c = conversations[n % conversations.size()];
    if (measured) result.lag.add(ms_between(due, SteadyClock::now()));
    StreamResult r;
    bool connected = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::string error;
      auto connection = co_await pool_.acquire(after(step.measure_to, options_.drain_timeout_s), error);
      connected = connection != nullptr;
      if (!connected) {
        r = StreamResult{};
        r.error = error;
        break;
      }
      const bool reused = connection->uses() > 0;
      r = co_await connection->stream(message_target(common_, c), message_body(common_, n), c.token,
                                      common_.openai ? StreamFormat::kOpenAi : StreamFormat::kChatscale, kIdleTimeout);
      pool_.release(std::move(connection));
      // A kept-alive connection that the server closed while it sat idle fails before any response:
      // try once more on another, as HTTP clients do (the time spent counts in the latency).
      if (!reused || r.status != 0) break;
    }
    std::string failure = connected ? failure_of(r) : "connect";
    if (failure.empty() && *r.done_at >= step.measure_from && *r.done_at < step.measure_to) ++result.done_in_window;
    if (!measured) co_return;
    ++result.statuses[r.status];
    if (!failure.empty()) {
      ++result.errors[failure];
      result.error_examples.emplace(failure, r.error.substr(0, 200));
      co_return;
    }
    ++result.ok;
    result.ttft.add(ms_between(due, *r.first_delta_at));
    result.total.add(ms_between(due, *r.done_at));
  }

  const CommonOptions& common_;
  const RateOptions& options_;
  std::size_t index_;
  std::size_t count_;
  std::size_t next_ = 0;
  net::io_context ioc_;
  ConnectionPool pool_;
};

// Runs fn(shard) on one thread per shard and waits for all of them.
template <typename Fn>
void on_every_shard(std::vector<std::unique_ptr<Shard>>& shards, Fn fn) {
  std::vector<std::thread> threads;
  for (auto& shard : shards) threads.emplace_back([&fn, &shard] { fn(*shard); });
  for (auto& t : threads) t.join();
}

std::string step_json(const CommonOptions& common, const RateOptions& options, double rate, const StepResult& r,
                      std::size_t conversations) {
  nlohmann::json j = {{"mode", "rate"},
                      {"label", common.label},
                      {"endpoint", common.openai ? "/v1/chat/completions" : "/conversations/{id}/messages"},
                      {"target_rate", rate},
                      {"duration_s", options.duration_s},
                      {"warmup_s", options.warmup_s},
                      {"io_threads", options.io_threads},
                      {"conversations", conversations},
                      // Stored messages per conversation when the step ends (user + answer): the
                      // history each send reads grows from 0 to this.
                      {"history_at_end", 2 * rate * (options.warmup_s + options.duration_s) / static_cast<double>(conversations)},
                      {"sent", r.sent},
                      {"ok", r.ok},
                      {"errors", r.sent - r.ok},
                      {"achieved_per_s", static_cast<double>(r.done_in_window) / options.duration_s},
                      {"connections_opened", r.connections_opened},
                      {"client_rss_kib", read_rss_kib(0)},
                      {"server_cpu_cores", r.cpu.server_cores},
                      {"client_cpu_cores", r.cpu.client_cores},
                      {"machine_idle_cores", r.cpu.idle_cores},
                      {"database_cpu_cores", r.cpu.database_cores}};
  for (auto& [status, n] : r.statuses) j["statuses"][std::to_string(status)] = n;
  for (auto& [kind, n] : r.errors) j["error_kinds"][kind] = {{"count", n}, {"example", r.error_examples.at(kind)}};
  j["ttft"] = nlohmann::json::parse(summary_json(r.ttft.summarize()));
  j["total"] = nlohmann::json::parse(summary_json(r.total.summarize()));
  j["send_lag"] = nlohmann::json::parse(summary_json(r.lag.summarize()));
  return j.dump();
}

void print_row(double rate, const StepResult& r, double duration_s) {
  auto t = r.ttft.summarize();
  auto d = r.total.summarize();
  auto lag = r.lag.summarize();
  std::printf("%8.0f %8zu %8zu %7zu %10.1f | %8.2f %8.2f %8.2f %9.2f | %8.2f %8.2f | %8.2f %6zu | %6.2f %6.2f %6.2f %6.2f\n",
              rate, r.sent, r.ok, r.sent - r.ok, static_cast<double>(r.done_in_window) / duration_s, t.p50_ms, t.p90_ms,
              t.p99_ms, t.max_ms, d.p50_ms, d.p99_ms, lag.p99_ms, r.connections_opened, r.cpu.server_cores,
              r.cpu.database_cores, r.cpu.client_cores, r.cpu.idle_cores);
  std::fflush(stdout);
}

}  // namespace

int run_rate(const CommonOptions& common, const RateOptions& options) {
  tcp::endpoint server(net::ip::make_address(common.host), common.port);
  std::vector<std::unique_ptr<Shard>> shards;
  for (std::size_t i = 0; i < options.io_threads; ++i)
    shards.push_back(std::make_unique<Shard>(common, options, server, i, options.io_threads));

  std::printf("%8s %8s %8s %7s %10s | %8s %8s %8s %9s | %8s %8s | %8s %6s | %6s %6s %6s %6s\n", "rate/s", "sent", "ok",
              "errors", "done/s", "ttft p50", "p90", "p99", "max (ms)", "done p50", "p99", "lag p99", "conns", "server",
              "db", "client", "idle (cores)");
  bool all_ok = true;
  for (std::size_t index = 0; index < options.rates.size(); ++index) {
    const double rate = options.rates[index];
    // Fresh users and conversations per step, so that every step starts from the same (empty)
    // histories and a later step does not pay for the context an earlier one built up.
    SetupOptions setup_options = common.setup;
    setup_options.email_prefix += "-step" + std::to_string(index);
    SetupReport setup;
    shards[0]->run([&]() -> net::awaitable<void> { setup = co_await set_up_users(shards[0]->pool(), setup_options); });
    std::cerr << "loadgen: set-up " << setup.registered << " registered, " << setup.logged_in << " signed in, "
              << setup.conversations.size() << " conversations in " << setup.seconds << " s\n";
    if (!setup.error.empty()) {
      std::cerr << "loadgen: set-up failed: " << setup.error << "\n";
      return 1;
    }
    for (auto& s : shards) s->conversations.clear();
    for (std::size_t j = 0; j < setup.conversations.size(); ++j)
      shards[j % shards.size()]->conversations.push_back(setup.conversations[j]);
    std::size_t prefill = options.prefill ? options.prefill : static_cast<std::size_t>(std::ceil(rate * 0.05)) + 8;
    on_every_shard(shards, [&](Shard& s) {
      s.run([&]() -> net::awaitable<void> { co_await s.pool().prefill(prefill / shards.size() + 1); });
    });
    Step step;
    step.rate = rate;
    step.t0 = after(SteadyClock::now(), 0.2);
    step.measure_from = after(step.t0, options.warmup_s);
    step.measure_to = after(step.measure_from, options.duration_s);
    // CPU used inside the measured window by the server, the databases, this process; the idle rest.
    CpuReading cpu[2];
    std::thread sampler([&] {
      for (int i = 0; i < 2; ++i) {
        std::this_thread::sleep_until(i == 0 ? step.measure_from : step.measure_to);
        cpu[i] = read_cpu(common.server_pid, common.database_pids);
      }
    });
    std::mutex merge_lock;
    StepResult merged;
    on_every_shard(shards, [&](Shard& s) {
      StepResult part = s.run_step(step);
      std::lock_guard<std::mutex> lock(merge_lock);
      merged.merge(part);
    });
    sampler.join();
    merged.cpu = cpu_between(cpu[0], cpu[1], options.duration_s);
    print_row(rate, merged, options.duration_s);
    emit_json(common, step_json(common, options, rate, merged, setup.conversations.size()));
    std::fflush(stdout);
    all_ok = all_ok && merged.ok == merged.sent;
  }
  for (auto& s : shards) s->pool().close_idle();
  return all_ok ? 0 : 1;
}

}  // namespace chatscale::bench
