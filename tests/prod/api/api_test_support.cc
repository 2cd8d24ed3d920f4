#include "api_test_support.h"

#include <gtest/gtest.h>

#include <exception>
#include <future>
#include <sstream>

#include "moderation/moderator.h"
#include "prod/http/url.h"
#include "prod/runtime/task.h"

namespace chatscale::api::test {

bool FakeWriter::respond(const http::HttpResponse& response) {
  ++responses_;
  head_ = response;
  body_ = response.body;
  return true;
}

bool FakeWriter::begin_stream(const http::HttpResponse& head) {
  ++responses_;
  head_ = head;
  streamed_ = true;
  return true;
}

bool FakeWriter::write(std::string_view bytes) {
  if (gone_) return false;
  if (disconnect_after_ >= 0 && writes_ >= disconnect_after_) {
    gone_ = true;
    return false;
  }
  ++writes_;
  body_.append(bytes);
  return true;
}

nlohmann::json SseEvent::json() const { return nlohmann::json::parse(data, nullptr, false); }

SseStream parse_sse(const std::string& body) {
  SseStream out;
  std::istringstream in(body);
  std::string line;
  SseEvent current;
  bool any = false;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (any) out.events.push_back(current);
      current = SseEvent{};
      any = false;
      continue;
    }
    if (line[0] == ':') {
      ++out.comments;
      continue;
    }
    auto colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    any = true;
    if (field == "id") current.id = value;
    if (field == "event") current.event = value;
    if (field == "data") current.data += (current.data.empty() ? "" : "\n") + value;
  }
  return out;
}

TaskRunner::TaskRunner(int threads) : guard_(ioc_.get_executor()) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

TaskRunner::~TaskRunner() { stop(); }

void TaskRunner::stop() {
  guard_.reset();
  ioc_.stop();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

void TaskRunner::run(const std::function<void()>& fn) {
  std::promise<void> done;
  spawn_task(ioc_, [&](TaskYield) {
    try {
      fn();
      done.set_value();
    } catch (const std::exception&) {
      done.set_exception(std::current_exception());
    }
  });
  done.get_future().get();
}

std::optional<std::string> Reply::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size(); ++i)
      same = same && std::tolower(static_cast<unsigned char>(key[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return value;
  }
  return std::nullopt;
}

nlohmann::json Reply::json() const { return nlohmann::json::parse(body, nullptr, false); }

testing::FakeScript HarnessOptions::fast_script() {
  testing::FakeScript script;
  script.reply = "Hello! This is a deterministic answer from the fake backend.";
  script.first_token_delay = 0.005;
  script.token_interval = 0.002;
  return script;
}

MessageServiceConfig HarnessOptions::service_config() {
  MessageServiceConfig config;
  config.model = "test-model";
  config.context_window_tokens = 4096;
  config.default_max_tokens = 256;
  config.heartbeat_interval_s = 0.05;
  config.first_token_timeout_s = 5;
  config.stall_timeout_s = 30;
  return config;
}

ApiOptions HarnessOptions::api_options() {
  ApiOptions options;
  options.auth_limits = auth::AuthLimits{0, 0, 0, {}};
  return options;
}

namespace {

JwtCodec make_jwt() { return JwtCodec::create(kJwtSecret).value(); }
HubConfig hub_config(const HarnessOptions& options, MessageStore& store) {
  HubConfig config = options.hub;
  if (options.hub_polls_stops) config.stop_requests = &store;
  return config;
}
ApiKeyHasher make_key_hasher() { return ApiKeyHasher::create(std::string(32, 'p')).value(); }

}  // namespace

ApiHarness::ApiHarness(HarnessOptions opts)
    : options(std::move(opts)),
      jwt(make_jwt()),
      api_keys(make_key_hasher()),
      limiter(rate_store, options.tiers),
      backend(clock, "fake", options.script),
      cancellable(backend, registry, clock, 0.02),
      service(MessagePorts{clock, store, store, store, metrics, tokenizer, {&cancellable}},
              MessageComponents{limiter, Moderator::builtin()}, options.service),
      runner(2),
      hub(runner.ioc(), clock, service, registry, hub_config(options, store)),
      completions(clock, store, metrics, tokenizer, {&cancellable}, MessageComponents{limiter, Moderator::builtin()},
                  options.service),
      ctx{clock,  pool,    ApiStores{store, store, store, store, store}, hasher, jwt, api_keys, limiter, rate_store, service, hub,
          completions, registry, metrics, nullptr, nullptr, options.api} {
  routes = all_routes(ctx);
  add_routes(router, routes);
}

ApiHarness::~ApiHarness() {
  hub.cancel_all();
  wait_idle(30);
  runner.stop();
}

bool ApiHarness::wait_idle(double seconds) {
  double deadline = clock.now() + seconds;
  while (hub.running() > 0) {
    if (clock.now() > deadline) return false;
    clock.sleep_for(0.002);
  }
  return true;
}

Reply ApiHarness::call(const std::string& method, const std::string& target, const std::string& body,
                       std::vector<std::pair<std::string, std::string>> headers, int disconnect_after_writes) {
  http::HttpRequest request;
  request.method = method;
  request.target = target;
  auto parts = http::split_target(target);
  request.path = parts ? http::percent_decode(parts->path).value_or(std::string(parts->path)) : target;
  if (parts) request.query = http::parse_query(parts->query);
  for (auto& [name, value] : headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(lower, value);
  }
  request.body = body;
  request.remote = "127.0.0.1";
  FakeWriter writer(disconnect_after_writes);
  runner.run([&] { router.dispatch(request, writer); });
  Reply reply;
  if (writer.head()) {
    reply.status = writer.head()->status;
    reply.headers = writer.head()->headers;
    if (!writer.head()->content_type.empty()) reply.headers.emplace_back("content-type", writer.head()->content_type);
  }
  reply.body = writer.body();
  reply.streamed = writer.streamed();
  reply.ended = writer.ended();
  return reply;
}

Reply ApiHarness::call_as(const std::string& token, const std::string& method, const std::string& target,
                          const std::string& body, std::vector<std::pair<std::string, std::string>> headers,
                          int disconnect_after_writes) {
  headers.emplace_back("authorization", "Bearer " + token);
  return call(method, target, body, std::move(headers), disconnect_after_writes);
}

std::string ApiHarness::register_user(const std::string& email, const std::string& password) {
  nlohmann::json body = {{"email", email}, {"password", password}};
  Reply reply = call("POST", "/auth/register", body.dump());
  EXPECT_EQ(reply.status, 201) << reply.body;
  return reply.json().value("access_token", "");
}

std::string ApiHarness::user_id_of(const std::string& email) {
  auto user = store.find_user_by_email(email, ReadOptions{});
  return user.is_ok() ? user->id : "";
}

std::string ApiHarness::create_conversation(const std::string& token, const std::string& title) {
  Reply reply = call_as(token, "POST", "/conversations", nlohmann::json{{"title", title}}.dump());
  EXPECT_EQ(reply.status, 201) << reply.body;
  return reply.json().value("id", "");
}

}  // namespace chatscale::api::test
