#include "prod/engine/server/engine_server.h"

#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "prod/api/api_json.h"
#include "prod/api/json_body.h"
#include "prod/api/openai_wire.h"
#include "prod/engine/server/engine_backend.h"
#include "prod/engine/server/engine_runtime.h"
#include "prod/http/http_server.h"
#include "prod/http/responses.h"
#include "prod/runtime/real_clock.h"
#include "prod/runtime/signal_watcher.h"

namespace chatscale::engine {
namespace {

using nlohmann::json;

void respond_error(http::ResponseWriter& writer, const Status& status) {
  writer.respond(http::json_response(http_status(status.code()), api::error_body(status)));
}

class EngineApi {
 public:
  EngineApi(InferenceBackend& backend, Clock& clock, std::string model)
      : backend_(backend), clock_(clock), model_(std::move(model)) {}

  void chat_completions(http::HttpRequest& request, http::ResponseWriter& writer) {
    auto body = api::parse_json_object(request.body, 8 << 20);
    if (!body.is_ok()) return respond_error(writer, body.status());
    api::ChatWireLimits limits;
    limits.require_model = false;
    auto call = api::parse_chat_request(*body, limits);
    if (!call.is_ok()) return respond_error(writer, call.status());
    const api::CompletionFormat format(api::completion_id(), static_cast<std::int64_t>(std::floor(clock_.now())),
                                       model_, call->include_usage);
    InferenceRequest r;
    r.request_id = format.id();
    r.model = model_;
    r.messages = std::move(call->messages);
    r.max_tokens = call->max_tokens;
    r.temperature = call->temperature;
    r.top_p = call->top_p;
    r.seed = call->seed;
    r.stop = std::move(call->stop);
    auto stream = backend_.start(r);
    if (!stream.is_ok()) return respond_error(writer, stream.status());
    if (call->stream) return stream_answer(**stream, format, writer);
    collect_answer(**stream, format, writer);
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

  void stream_answer(InferenceStream& stream, const api::CompletionFormat& format, http::ResponseWriter& writer) {
    http::HttpResponse head;
    head.content_type = "text/event-stream; charset=utf-8";
    head.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}};
    if (!writer.begin_stream(head) || !writer.write(format.role_chunk())) return stream.cancel();
    for (;;) {
      auto event = next_event(stream, writer);
      if (!event.is_ok() || event->kind == InferenceEvent::Kind::kError) {
        Status error = event.is_ok() ? event->error : event.status();
        if (error.code() == StatusCode::kCancelled) return stream.cancel();
        writer.write(http::sse_event(api::dump_json(api::error_body(error))));
        break;
      }
      if (event->kind == InferenceEvent::Kind::kDelta) {
        if (event->text.empty()) continue;
        if (!writer.write(format.delta_chunk(event->text))) return stream.cancel();
        continue;
      }
      writer.write(format.finish_chunk(event->finish_reason));
      if (format.include_usage()) writer.write(format.usage_chunk(event->usage));
      break;
    }
    writer.write(http::sse_event("[DONE]"));
    writer.end_stream();
  }

  void collect_answer(InferenceStream& stream, const api::CompletionFormat& format, http::ResponseWriter& writer) {
    std::string text;
    for (;;) {
      auto event = next_event(stream, writer);
      if (!event.is_ok()) return respond_error(writer, event.status());
      if (event->kind == InferenceEvent::Kind::kError) return respond_error(writer, event->error);
      if (event->kind == InferenceEvent::Kind::kDelta) {
        text += event->text;
        continue;
      }
      writer.respond(http::json_response(200, format.completion(text, event->finish_reason, event->usage)));
      return;
    }
  }

  InferenceBackend& backend_;
  Clock& clock_;
  std::string model_;
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
                        "authentication: bind it to a trusted address. SIGINT/SIGTERM drain it; a second\n"
                        "signal stops it at once.");
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
  if (port < 0 || port > 65535) return cli::report_bad_input("engine", "--port: must be between 0 and 65535");
  if (threads < 0 || threads > 1024) return cli::report_bad_input("engine", "--threads: must be between 0 and 1024");
  if (max_seqs < 1 || max_seqs > 4096) return cli::report_bad_input("engine", "--max-seqs: must be between 1 and 4096");
  if (o.kv_blocks > 0 && o.kv_memory_mib > 0) return cli::report_bad_input("engine", "--kv-blocks and --kv-memory-mib exclude each other");
  o.threads = static_cast<int>(threads);
  o.max_seqs = static_cast<std::int32_t>(max_seqs);
  o.block_size = 16;

  block_stop_signals();
  RealClock clock;
  auto runtime = EngineRuntime::create(o, clock);
  if (!runtime.is_ok()) return cli::report_bad_input("engine", runtime.status().message());
  EngineRuntime& rt = **runtime;
  const LlamaConfig& c = rt.config();
  std::cerr << "engine: " << o.model_path << ": " << c.layers << " layers, hidden " << c.hidden << ", vocab " << c.vocab
            << ", context " << c.context_length << "; " << rt.backend_text() << "; KV cache "
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
    SignalWatcher watcher("engine", [&server](bool drain) { server.stop(drain); });
    server.run();
  }
  std::cerr << "engine: stopped\n";
  return cli::kExitOk;
}

}  // namespace chatscale::engine
