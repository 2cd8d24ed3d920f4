#include "prod/engine/server/engine_server.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <ctime>
#include <iostream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "prod/api/api_json.h"
#include "prod/api/json_body.h"
#include "prod/engine/server/engine_backend.h"
#include "prod/engine/server/engine_runtime.h"
#include "prod/http/http_server.h"
#include "prod/http/responses.h"
#include "prod/runtime/real_clock.h"

namespace chatscale::engine {
namespace {

using nlohmann::json;

struct ChatCall {
  InferenceRequest request;
  bool stream = false;
  bool include_usage = false;
};

std::string completion_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id = "chatcmpl-";
  for (int i = 0; i < 24; ++i) id.push_back(kHex[rng() % 16]);
  return id;
}

const char* finish_text(FinishReason reason) { return reason == FinishReason::kLength ? "length" : "stop"; }

Status read_content(const json& content, const std::string& at, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return Status::ok();
  }
  if (content.is_null()) return Status::ok();
  if (!content.is_array()) return invalid_argument(at + ".content: must be a string or an array of text parts");
  for (const json& part : content) {
    if (!part.is_object() || !part.contains("text") || !part["text"].is_string()) {
      return invalid_argument(at + ".content: parts must be objects with a string \"text\"");
    }
    out += part["text"].get<std::string>();
  }
  return Status::ok();
}

Status read_messages(const json& body, std::vector<ChatTurn>& turns) {
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return invalid_argument("messages: must be a non-empty array");
  }
  const json& messages = body["messages"];
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const json& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return invalid_argument(at + ": must be an object with a string role");
    }
    const std::string role = m["role"].get<std::string>();
    ChatTurn turn;
    if (role == "system" || role == "developer") turn.role = Role::kSystem;
    else if (role == "user") turn.role = Role::kUser;
    else if (role == "assistant") turn.role = Role::kAssistant;
    else return invalid_argument(at + ".role: \"" + role + "\" is not supported (system, developer, user, assistant)");
    if (m.contains("content")) CS_RETURN_IF_ERROR(read_content(m["content"], at, turn.content));
    turns.push_back(std::move(turn));
  }
  return Status::ok();
}

Result<ChatCall> read_call(const json& body) {
  ChatCall call;
  CS_RETURN_IF_ERROR(read_messages(body, call.request.messages));
  if (body.contains("stream")) {
    if (!body["stream"].is_boolean()) return invalid_argument("stream: must be a boolean");
    call.stream = body["stream"].get<bool>();
  }
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    const json& o = body["stream_options"];
    call.include_usage = o.contains("include_usage") && o["include_usage"].is_boolean() && o["include_usage"].get<bool>();
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    if (!body[key].is_number_integer() || body[key].get<std::int64_t>() < 1) {
      return invalid_argument(std::string(key) + ": must be a positive integer");
    }
    call.request.max_tokens = body[key].get<std::int64_t>();
  }
  if (body.contains("temperature") && !body["temperature"].is_null()) {
    if (!body["temperature"].is_number()) return invalid_argument("temperature: must be a number");
    double t = body["temperature"].get<double>();
    if (!(t >= 0 && t <= 2)) return invalid_argument("temperature: must be between 0 and 2");
    call.request.temperature = t;
  }
  call.request.request_id = completion_id();
  return call;
}

void respond_error(http::ResponseWriter& writer, const Status& status) {
  json body = {{"error", api::error_object(status)}};
  body["error"]["param"] = nullptr;
  writer.respond(http::json_response(http_status(status.code()), body));
}

class EngineApi {
 public:
  EngineApi(InferenceBackend& backend, Clock& clock, std::string model)
      : backend_(backend), clock_(clock), model_(std::move(model)) {}

  void chat_completions(http::HttpRequest& request, http::ResponseWriter& writer) {
    auto body = api::parse_json_object(request.body, 8 << 20);
    if (!body.is_ok()) return respond_error(writer, body.status());
    auto call = read_call(*body);
    if (!call.is_ok()) return respond_error(writer, call.status());
    call->request.model = model_;
    auto stream = backend_.start(call->request);
    if (!stream.is_ok()) return respond_error(writer, stream.status());
    const std::string id = call->request.request_id;
    const auto created = static_cast<std::int64_t>(std::floor(clock_.now()));
    if (call->stream) return stream_answer(**stream, *call, writer, id, created);
    collect_answer(**stream, writer, id, created);
  }

  void models(http::HttpRequest&, http::ResponseWriter& writer) {
    json model = {{"id", model_}, {"object", "model"}, {"created", 0}, {"owned_by", "chatscale"}};
    writer.respond(http::json_response(200, {{"object", "list"}, {"data", json::array({model})}}));
  }

  void healthz(http::HttpRequest&, http::ResponseWriter& writer) {
    BackendLoad load = backend_.load();
    writer.respond(http::json_response(200, {{"status", "ok"}, {"in_flight", load.in_flight}, {"capacity", load.capacity}}));
  }

 private:
  // Next event, waiting in slices so a client that left is noticed between tokens.
  Result<InferenceEvent> next_event(InferenceStream& stream, http::ResponseWriter& writer) {
    for (;;) {
      auto event = stream.next(clock_.now() + 5);
      if (event.is_ok() || event.status().code() != StatusCode::kDeadlineExceeded) return event;
      if (writer.client_gone()) return cancelled("the client went away");
    }
  }

  json envelope(const std::string& id, std::int64_t created) const {
    return {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_}};
  }

  std::string chunk(const std::string& id, std::int64_t created, json delta, json finish, bool usage_null) const {
    json c = envelope(id, created);
    c["choices"] = json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}});
    if (usage_null) c["usage"] = nullptr;
    return http::sse_event(api::dump_json(c));
  }

  void stream_answer(InferenceStream& stream, const ChatCall& call, http::ResponseWriter& writer, const std::string& id,
                     std::int64_t created) {
    http::HttpResponse head;
    head.content_type = "text/event-stream; charset=utf-8";
    head.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}};
    const bool u = call.include_usage;
    if (!writer.begin_stream(head) ||
        !writer.write(chunk(id, created, {{"role", "assistant"}, {"content", ""}}, nullptr, u))) {
      return stream.cancel();
    }
    for (;;) {
      auto event = next_event(stream, writer);
      if (!event.is_ok() || event->kind == InferenceEvent::Kind::kError) {
        Status error = event.is_ok() ? event->error : event.status();
        if (error.code() == StatusCode::kCancelled) return stream.cancel();
        json body = {{"error", api::error_object(error)}};
        writer.write(http::sse_event(api::dump_json(body)));
        break;
      }
      if (event->kind == InferenceEvent::Kind::kDelta) {
        if (event->text.empty()) continue;
        if (!writer.write(chunk(id, created, {{"content", event->text}}, nullptr, u))) return stream.cancel();
        continue;
      }
      writer.write(chunk(id, created, json::object(), finish_text(event->finish_reason), u));
      if (u) {
        json last = envelope(id, created);
        last["choices"] = json::array();
        last["usage"] = api::usage_json(event->usage);
        writer.write(http::sse_event(api::dump_json(last)));
      }
      break;
    }
    writer.write(http::sse_event("[DONE]"));
    writer.end_stream();
  }

  void collect_answer(InferenceStream& stream, http::ResponseWriter& writer, const std::string& id, std::int64_t created) {
    std::string text;
    for (;;) {
      auto event = next_event(stream, writer);
      if (!event.is_ok()) return respond_error(writer, event.status());
      if (event->kind == InferenceEvent::Kind::kError) return respond_error(writer, event->error);
      if (event->kind == InferenceEvent::Kind::kDelta) {
        text += event->text;
        continue;
      }
      json choice = {{"index", 0},
                     {"message", {{"role", "assistant"}, {"content", text}}},
                     {"finish_reason", finish_text(event->finish_reason)}};
      writer.respond(http::json_response(200, {{"id", id},
                                               {"object", "chat.completion"},
                                               {"created", created},
                                               {"model", model_},
                                               {"choices", json::array({choice})},
                                               {"usage", api::usage_json(event->usage)}}));
      return;
    }
  }

  InferenceBackend& backend_;
  Clock& clock_;
  std::string model_;
};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// SIGINT/SIGTERM on a thread of its own: the first drains the server, the second stops it at once.
class SignalWatcher {
 public:
  explicit SignalWatcher(http::HttpServer& server)
      : thread_([this, &server] {
          sigset_t set = stop_signals();
          timespec tick{0, 200'000'000};
          int seen = 0;
          while (!done_.load()) {
            int sig = sigtimedwait(&set, nullptr, &tick);
            if (sig != SIGINT && sig != SIGTERM) continue;
            std::cerr << "engine: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": stopping\n";
            server.stop(/*drain=*/seen++ == 0);
          }
        }) {}
  ~SignalWatcher() {
    done_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

void add_engine_routes(http::Router& router, InferenceBackend& backend, Clock& clock, std::string model) {
  auto api = std::make_shared<EngineApi>(backend, clock, std::move(model));
  router.add("POST", "/v1/chat/completions",
             [api](http::HttpRequest& r, http::ResponseWriter& w) { api->chat_completions(r, w); });
  router.add("GET", "/v1/models", [api](http::HttpRequest& r, http::ResponseWriter& w) { api->models(r, w); });
  router.add("GET", "/healthz", [api](http::HttpRequest& r, http::ResponseWriter& w) { api->healthz(r, w); });
}

int engine_command(const std::vector<std::string>& args) {
  EngineOptions o;
  std::string host = "127.0.0.1";
  std::int64_t port = 8080, threads = 0, max_seqs = o.max_seqs;
  cli::ArgParser parser("chatscale engine",
                        "Serves a GGUF Llama-family model with the project's own engine: OpenAI-compatible\n"
                        "POST /v1/chat/completions (streamed or not), GET /v1/models and /healthz. No\n"
                        "authentication: bind it to a trusted address. SIGINT/SIGTERM stop it.");
  parser.option("--model", "FILE", &o.model_path, "the GGUF model to serve (required)");
  parser.option("--device", "cpu|cuda", &o.device, "where the model runs (default cpu)");
  parser.option("--host", "H", &host, "address to listen on (default 127.0.0.1)");
  parser.option("--port", "P", &port, "port to listen on (default 8080; 0: any free port)");
  parser.option("--threads", "N", &threads, "CPU threads of the forward pass (default: all cores)");
  parser.option("--kv-blocks", "N", &o.kv_blocks, "KV cache blocks of 16 tokens");
  parser.option("--kv-memory-mib", "M", &o.kv_memory_mib, "KV cache size in MiB (default: max-seqs full contexts, <= 1024)");
  parser.option("--max-batched-tokens", "N", &o.max_batched_tokens, "token budget of one iteration (default 512)");
  parser.option("--max-seqs", "N", &max_seqs, "most sequences running at once (default 32)");
  if (Status s = parser.parse(args); !s.is_ok()) return cli::report_bad_input("engine", s.message());
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return cli::kExitOk;
  }
  if (o.model_path.empty()) return cli::report_bad_input("engine", "--model FILE.gguf is required");
  if (o.device != "cpu" && o.device != "cuda") return cli::report_bad_input("engine", "--device: cpu or cuda");
  if (o.device == "cuda") {
    return cli::report_bad_input("engine", "--device cuda: no CUDA serving backend in this build (the CUDA backend "
                                           "does not implement the engine's ModelBackend yet); use --device cpu");
  }
  if (port < 0 || port > 65535) return cli::report_bad_input("engine", "--port: must be between 0 and 65535");
  if (threads < 0 || threads > 1024) return cli::report_bad_input("engine", "--threads: must be between 0 and 1024");
  if (max_seqs < 1 || max_seqs > 4096) return cli::report_bad_input("engine", "--max-seqs: must be between 1 and 4096");
  if (o.kv_blocks > 0 && o.kv_memory_mib > 0) return cli::report_bad_input("engine", "--kv-blocks and --kv-memory-mib exclude each other");
  o.threads = static_cast<int>(threads);
  o.max_seqs = static_cast<std::int32_t>(max_seqs);
  o.block_size = 16;

  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  RealClock clock;
  auto runtime = EngineRuntime::create(o, clock);
  if (!runtime.is_ok()) return cli::report_bad_input("engine", runtime.status().message());
  EngineRuntime& rt = **runtime;
  const LlamaConfig& c = rt.config();
  std::cerr << "engine: " << o.model_path << ": " << c.layers << " layers, hidden " << c.hidden << ", vocab " << c.vocab
            << ", context " << c.context_length << "; CPU backend, " << rt.threads() << " threads; KV cache "
            << rt.kv_blocks() << " blocks of " << rt.block_size() << " tokens\n";
  http::Router router;
  add_engine_routes(router, rt.backend(), clock, rt.backend().config().model);
  http::HttpServerOptions so;
  so.host = host;
  so.port = static_cast<int>(port);
  so.io_threads = 2;
  http::HttpServer server(so, router);
  if (Status s = server.start(); !s.is_ok()) {
    std::cerr << "engine: " << s.message() << "\n";
    return cli::kExitFailure;
  }
  std::cout << "listening on " << host << ":" << server.port() << std::endl;
  {
    SignalWatcher watcher(server);
    server.run();
  }
  std::cerr << "engine: stopped\n";
  return cli::kExitOk;
}

}  // namespace chatscale::engine
