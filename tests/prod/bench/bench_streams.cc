// `streams`: how many concurrent SSE streams one server process holds, and what each costs it in
// memory. Streams are opened in batches (the next batch starts once this one has its headers, so the
// server's accept backlog keeps up), held, counted, then their generations are stopped (for at most
// stop_timeout_s) and the connections closed. Single-threaded: one io_context on the calling thread.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "bench_modes.h"
#include "bench_stats.h"

namespace chatscale::bench {
namespace {

struct StreamSlot {
  const BenchConversation* conversation = nullptr;
  std::unique_ptr<Connection> connection;
  std::string message_id;
  bool established = false;  // a 200 header arrived
  bool ended = false;        // the stream is over (failed, finished or closed)
  std::string failure;       // why it ended, when it was not our doing
};

struct StreamsReport {
  std::size_t established = 0;
  std::size_t failed = 0;        // never established
  std::size_t open_at_end = 0;   // established and still open when the hold ended
  std::size_t ended_early = 0;   // established, then ended by the server before the hold ended
  std::map<std::string, std::size_t> failures;
  double ramp_s = 0;
  double hold_s = 0;
  std::size_t deltas_during_hold = 0;
  long rss_before_kib = -1;
  long rss_after_kib = -1;
  long client_rss_kib = -1;
  std::size_t stopped = 0;       // POST .../stop answered 200 or 202
  std::size_t stop_failed = 0;   // answered otherwise, or timed out
  std::size_t stop_skipped = 0;  // not tried: stop_timeout_s ran out
  double stop_s = 0;
  CpuUse hold_cpu;  // while the streams were held
};

class StreamsRun {
 public:
  StreamsRun(const CommonOptions& common, const StreamsOptions& options, net::io_context& ioc, tcp::endpoint server)
      : common_(common), options_(options), ioc_(ioc), server_(server), group_(ioc) {}

  net::awaitable<void> run(const std::vector<BenchConversation>& conversations, StreamsReport& report) {
    report.rss_before_kib = common_.server_pid > 0 ? read_rss_kib(common_.server_pid) : -1;
    auto ramp_start = SteadyClock::now();
    co_await ramp(conversations);
    auto hold_start = SteadyClock::now();
    report.ramp_s = std::chrono::duration<double>(hold_start - ramp_start).count();
    std::size_t deltas_before = deltas_;
    CpuReading cpu_before = read_cpu(common_.server_pid, common_.database_pids);
    co_await sleep(options_.hold_s);
    report.hold_s = std::chrono::duration<double>(SteadyClock::now() - hold_start).count();
    report.hold_cpu = cpu_between(cpu_before, read_cpu(common_.server_pid, common_.database_pids), report.hold_s);
    report.deltas_during_hold = deltas_ - deltas_before;
    report.rss_after_kib = common_.server_pid > 0 ? read_rss_kib(common_.server_pid) : -1;
    report.client_rss_kib = read_rss_kib(0);
    count(report);
    if (options_.stop_generations && !common_.openai) co_await stop_all(report);
    for (auto& slot : slots_)
      if (!slot->ended && slot->connection) slot->connection->close();
    co_await group_.wait();
  }

 private:
  net::awaitable<void> sleep(double seconds) {
    net::steady_timer timer(ioc_, std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds)));
    beast::error_code ignored;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
  }

  // Opens the streams batch by batch; a batch is done when each of its streams has its header or has
  // failed, or when batch_timeout_s has passed.
  net::awaitable<void> ramp(const std::vector<BenchConversation>& conversations) {
    for (std::size_t first = 0; first < options_.streams; first += options_.batch) {
      std::size_t last = std::min(first + options_.batch, options_.streams);
      for (std::size_t i = first; i < last; ++i) {
        slots_.push_back(std::make_unique<StreamSlot>());
        slots_.back()->conversation = &conversations[i % conversations.size()];
        group_.add();
        net::co_spawn(ioc_, hold_one(*slots_.back(), i), [this](std::exception_ptr) { group_.done(); });
      }
      auto deadline = SteadyClock::now() + std::chrono::milliseconds(static_cast<long>(options_.batch_timeout_s * 1000));
      while (SteadyClock::now() < deadline && !batch_settled(first, last)) co_await sleep(0.005);
      if (last % 5000 == 0 || last == options_.streams) std::cerr << "loadgen: " << last << " streams opened\n";
    }
  }

  bool batch_settled(std::size_t first, std::size_t last) const {
    for (std::size_t i = first; i < last; ++i)
      if (!slots_[i]->established && !slots_[i]->ended) return false;
    return true;
  }

  net::awaitable<void> hold_one(StreamSlot& slot, std::size_t index) {
    slot.connection = std::make_unique<Connection>(ioc_.get_executor());
    net::ip::address source;
    if (options_.source_addresses > 1)
      source = net::ip::make_address_v4(0x7f000001u + static_cast<unsigned>(index % options_.source_addresses));
    beast::error_code ec = co_await slot.connection->connect(server_, source);
    if (ec) {
      slot.failure = "connect: " + describe(ec);
      slot.ended = true;
      co_return;
    }
    StreamHooks hooks;
    hooks.on_headers = [&slot](std::string_view id) {
      slot.established = true;
      slot.message_id = std::string(id);
    };
    hooks.on_delta = [this] { ++deltas_; };
    StreamResult r = co_await slot.connection->stream(message_target(common_, *slot.conversation),
                                                      message_body(common_, index), slot.conversation->token,
                                                      common_.openai ? StreamFormat::kOpenAi : StreamFormat::kChatscale,
                                                      std::chrono::milliseconds(0), hooks);
    if (!closing_) {
      if (r.status == 0) slot.failure = "transport: " + r.error;
      else if (r.status != 200) slot.failure = "http " + std::to_string(r.status) + ": " + r.error.substr(0, 120);
      else slot.failure = r.done_at ? "finished (done event)" : "cut: " + r.error;
    }
    slot.ended = true;
    slot.connection->close();
  }

  void count(StreamsReport& report) const {
    for (const auto& slot : slots_) {
      if (slot->established) ++report.established;
      else ++report.failed;
      if (slot->established && !slot->ended) ++report.open_at_end;
      if (slot->established && slot->ended) ++report.ended_early;
      if (!slot->failure.empty()) ++report.failures[slot->failure];
      else if (!slot->established) ++report.failures["no header within the batch timeout"];
    }
  }

  // Stops every open stream's generation (the server owns generations: closing the connection alone
  // would leave them running), a bounded number of requests at a time.
  net::awaitable<void> stop_all(StreamsReport& report) {
    closing_ = true;
    const auto start = SteadyClock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long>(options_.stop_timeout_s * 1000));
    ConnectionPool pool(ioc_, server_, 64);
    WaitGroup stops(ioc_);
    std::size_t next = 0;
    auto worker = [&]() -> net::awaitable<void> {
      while (next < slots_.size()) {
        StreamSlot& slot = *slots_[next++];
        if (slot.ended || slot.message_id.empty()) continue;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (left.count() <= 0) {
          ++report.stop_skipped;
          continue;
        }
        std::string error;
        auto connection = co_await pool.acquire(deadline, error);
        if (!connection) {
          ++report.stop_failed;
          continue;
        }
        std::string target = "/conversations/" + slot.conversation->id + "/messages/" + slot.message_id + "/stop";
        HttpResult r = co_await connection->request(http::verb::post, target, "", slot.conversation->token,
                                                    std::max(left, std::chrono::milliseconds(1000)));
        pool.release(std::move(connection));
        if (r.status == 200 || r.status == 202) ++report.stopped;
        else ++report.stop_failed;
      }
    };
    for (int i = 0; i < 64; ++i) {
      stops.add();
      net::co_spawn(ioc_, worker(), [&stops](std::exception_ptr) { stops.done(); });
    }
    co_await stops.wait();
    pool.close_idle();
    report.stop_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  }

  const CommonOptions& common_;
  const StreamsOptions& options_;
  net::io_context& ioc_;
  tcp::endpoint server_;
  WaitGroup group_;
  std::vector<std::unique_ptr<StreamSlot>> slots_;
  std::size_t deltas_ = 0;
  bool closing_ = false;
};

std::string report_json(const CommonOptions& common, const StreamsOptions& options, const StreamsReport& r) {
  long grown = r.rss_before_kib >= 0 && r.rss_after_kib >= 0 ? r.rss_after_kib - r.rss_before_kib : -1;
  nlohmann::json j = {{"mode", "streams"},
                      {"label", common.label},
                      {"endpoint", common.openai ? "/v1/chat/completions" : "/conversations/{id}/messages"},
                      {"target", options.streams},
                      {"established", r.established},
                      {"failed", r.failed},
                      {"open_at_end", r.open_at_end},
                      {"ended_early", r.ended_early},
                      {"ramp_s", r.ramp_s},
                      {"hold_s", r.hold_s},
                      {"deltas_during_hold", r.deltas_during_hold},
                      {"server_rss_before_kib", r.rss_before_kib},
                      {"server_rss_after_kib", r.rss_after_kib},
                      {"kib_per_stream", grown >= 0 && r.open_at_end ? static_cast<double>(grown) / static_cast<double>(r.open_at_end) : -1.0},
                      {"client_rss_kib", r.client_rss_kib},
                      {"stopped", r.stopped},
                      {"stop_failed", r.stop_failed},
                      {"stop_skipped", r.stop_skipped},
                      {"stop_s", r.stop_s},
                      {"hold_server_cpu_cores", r.hold_cpu.server_cores},
                      {"hold_database_cpu_cores", r.hold_cpu.database_cores},
                      {"hold_client_cpu_cores", r.hold_cpu.client_cores},
                      {"hold_machine_idle_cores", r.hold_cpu.idle_cores}};
  for (auto& [kind, n] : r.failures) j["failures"][kind] = n;
  return j.dump();
}

}  // namespace

int run_streams(const CommonOptions& common, const StreamsOptions& options) {
  net::io_context ioc;
  tcp::endpoint server(net::ip::make_address(common.host), common.port);
  SetupReport setup;
  StreamsReport report;
  auto main = [&]() -> net::awaitable<void> {
    {
      ConnectionPool pool(ioc, server, 64);
      setup = co_await set_up_users(pool, common.setup);
      pool.close_idle();
    }
    std::cerr << "loadgen: set-up " << setup.registered << " registered, " << setup.logged_in << " signed in, "
              << setup.conversations.size() << " conversations in " << setup.seconds << " s\n";
    if (!setup.error.empty()) co_return;
    net::steady_timer settle(ioc, std::chrono::seconds(1));  // let the server close the set-up connections
    beast::error_code ignored;
    co_await settle.async_wait(net::redirect_error(net::use_awaitable, ignored));
    StreamsRun run(common, options, ioc, server);
    co_await run.run(setup.conversations, report);
  };
  net::co_spawn(ioc, main(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ioc.run();
  if (!setup.error.empty()) {
    std::cerr << "loadgen: set-up failed: " << setup.error << "\n";
    return 1;
  }
  long grown = report.rss_after_kib - report.rss_before_kib;
  std::printf("streams: target %zu, established %zu, failed %zu, open at end of %.0f s hold %zu (ramp %.1f s), "
              "ended early %zu; server RSS %ld -> %ld KiB (%.1f KiB per open stream); %zu deltas during the hold; "
              "stopped %zu in %.1f s (%zu failed, %zu not tried)\n",
              options.streams, report.established, report.failed, report.hold_s, report.open_at_end, report.ramp_s,
              report.ended_early, report.rss_before_kib, report.rss_after_kib,
              report.open_at_end ? static_cast<double>(grown) / static_cast<double>(report.open_at_end) : 0.0,
              report.deltas_during_hold, report.stopped, report.stop_s, report.stop_failed, report.stop_skipped);
  std::printf("  during the hold: server %.2f, PostgreSQL + Redis %.2f, load generator %.2f cores; %.2f idle\n",
              report.hold_cpu.server_cores, report.hold_cpu.database_cores, report.hold_cpu.client_cores,
              report.hold_cpu.idle_cores);
  for (auto& [kind, n] : report.failures) std::printf("  %7zu  %s\n", n, kind.c_str());
  std::fflush(stdout);
  emit_json(common, report_json(common, options, report));
  return report.open_at_end == options.streams ? 0 : 1;
}

}  // namespace chatscale::bench
