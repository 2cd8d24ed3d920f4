#include "bench_setup.h"

#include <nlohmann/json.hpp>

namespace chatscale::bench {
namespace {

constexpr std::chrono::seconds kRequestTimeout(60);

struct SetupRun {
  const SetupOptions& options;
  ConnectionPool& pool;
  SetupReport& report;
  std::size_t next_user = 0;

  void fail(const std::string& what, const HttpResult& r) {
    if (!report.error.empty()) return;
    report.error = what + ": " + (r.status ? "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300) : r.error);
  }

  // One request on a pooled connection; status 0 with `error` when no connection could be had.
  net::awaitable<HttpResult> call(http::verb verb, const std::string& target, const std::string& body,
                                  const std::string& bearer) {
    HttpResult r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::string error;
      auto connection = co_await pool.acquire(SteadyClock::now() + kRequestTimeout, error);
      if (!connection) co_return HttpResult{0, "", error};
      const bool reused = connection->uses() > 0;
      r = co_await connection->request(verb, target, body, bearer, kRequestTimeout);
      pool.release(std::move(connection));
      if (!reused || r.status != 0) break;  // a kept-alive connection the server had closed: once more
    }
    co_return r;
  }

  static std::string field(const std::string& body, const char* name) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains(name) || !json[name].is_string()) return {};
    return json[name].get<std::string>();
  }

  net::awaitable<std::string> sign_in(std::size_t user) {
    nlohmann::json credentials = {{"email", options.email_prefix + "-" + std::to_string(user) + "@bench.example"},
                                  {"password", options.password}};
    HttpResult r = co_await call(http::verb::post, "/auth/register", credentials.dump(), "");
    if (r.status == 201) {
      ++report.registered;
    } else if (r.status == 409) {
      r = co_await call(http::verb::post, "/auth/login", credentials.dump(), "");
      if (r.status == 200) ++report.logged_in;
    }
    std::string token = r.status == 200 || r.status == 201 ? field(r.body, "access_token") : "";
    if (token.empty()) fail("sign in user " + std::to_string(user), r);
    co_return token;
  }

  // Signs users in and creates their conversations until none are left or something failed.
  net::awaitable<void> worker(std::vector<std::vector<BenchConversation>>& per_user) {
    while (report.error.empty() && next_user < options.users) {
      std::size_t user = next_user++;
      std::string token = co_await sign_in(user);
      for (std::size_t c = 0; !token.empty() && c < options.conversations_per_user && report.error.empty(); ++c) {
        HttpResult r = co_await call(http::verb::post, "/conversations", R"({"title":"loadgen"})", token);
        std::string id = r.status == 201 ? field(r.body, "id") : "";
        if (id.empty()) fail("create a conversation", r);
        else per_user[user].push_back({token, id});
      }
    }
  }
};

}  // namespace

net::awaitable<SetupReport> set_up_users(ConnectionPool& pool, const SetupOptions& options) {
  SetupReport report;
  auto start = SteadyClock::now();
  auto& ioc = pool.context();
  SetupRun run{options, pool, report};
  std::vector<std::vector<BenchConversation>> per_user(options.users);
  WaitGroup group(ioc);
  for (std::size_t i = 0; i < std::max<std::size_t>(options.parallel, 1); ++i) {
    group.add();
    net::co_spawn(ioc, run.worker(per_user), [&](std::exception_ptr failure) {
      if (failure && report.error.empty()) report.error = "set-up worker threw";
      group.done();
    });
  }
  co_await group.wait();
  for (auto& conversations : per_user)
    for (auto& c : conversations) report.conversations.push_back(std::move(c));
  report.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  co_return report;
}

}  // namespace chatscale::bench
