// The HTTP face of `chatscale engine`: an OpenAI-compatible POST /v1/chat/completions (stream true or
// false; streamed as OpenAI does: `data: {chat.completion.chunk}` events, the first with the assistant
// role, one per text delta, one with the finish reason, a usage chunk with empty choices when
// stream_options.include_usage, then `data: [DONE]`), GET /v1/models (the one model) and GET /healthz,
// over any InferenceBackend (the engine's EngineBackend), on prod/http's HttpServer.
//
// Why not prod/api's OpenAI routes: they run the service's whole flow (accounts, API-key or JWT
// authentication, rate limits, usage billing in a store), which a standalone model server has none of;
// `chatscale serve` with a backend of kind engine gives exactly that flow over the same engine. This
// server has no authentication (bind it to a trusted address) and the same chunk format.
//
// Request and response formats are prod/api/openai_wire.h's (shared with the chat service): model
// (any, or none; answers name the served model), messages, stream, stream_options.include_usage,
// max_tokens / max_completion_tokens, temperature, top_p, seed, stop, n (only 1). Errors are OpenAI
// error bodies with the status's HTTP code and the offending field as `param` (a prompt beyond the
// context is 400).
//
// Ownership: the routes borrow the backend and the clock (they must outlive the server).
// Thread-safety: handlers run concurrently on the server's connection tasks; waiting for tokens
// suspends the task (the backend waits on a Clock Signal the engine loop notifies). Failure
// behaviour: errors are responses; a client that goes away cancels its generation at the next write.
#pragma once

#include <string>
#include <vector>

#include "ports/clock.h"
#include "ports/inference.h"
#include "prod/http/router.h"

namespace chatscale::engine {

void add_engine_routes(http::Router& router, InferenceBackend& backend, Clock& clock, std::string model);

// `chatscale engine --model FILE.gguf [--device cpu|cuda] [--port P] [--host H] [--threads N]
// [--kv-blocks N | --kv-memory-mib M] [--max-batched-tokens N] [--max-seqs N]`: prints
// "listening on HOST:PORT" and serves until SIGINT/SIGTERM (prod/runtime/signal_watcher.h: the first
// drains, a second stops at once). Exit 2 for bad input (a bad model file, --device cuda), 1 when
// the port cannot be bound.
int engine_command(const std::vector<std::string>& args);

}  // namespace chatscale::engine
