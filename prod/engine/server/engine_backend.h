// EngineBackend: the service's InferenceBackend port over the project's own engine (EngineLoop +
// Tokenizer + chat template). start() renders the request's messages with the model's chat template
// (Llama 3 or Llama 2, chosen from the GGUF tokenizer.chat_template or the vocabulary), encodes them
// with the model's tokenizer and submits the ids to the loop with the request's temperature (greedy at
// 0), top_p, seed (given: reproducible; absent: derived from the request id), max_tokens (0: the
// configured default, else up to the context) and the vocabulary's end-of-generation ids; the stream
// turns tokens into text deltas holding back incomplete UTF-8 (StreamingDecoder; bytes that form no
// character become U+FFFD), then kDone with usage {prompt ids as encoded by the model's tokenizer,
// tokens generated (a stop token included)} and the finish reason (kStop or kLength).
//
// Stop strings (request.stop): the text goes through a StopMatcher (shared/service/stop_matcher.h), so
// a delta that could still begin a stop string is held back; at a match the delta is cut before it,
// the engine sequence is cancelled at once (its KV blocks freed) and the stream ends with kStop and
// usage {prompt, tokens read up to and including the one that completed the stop}.
//
// Waiting: next(deadline) arms a Clock Signal on the engine stream (EngineStream::notify_on_event)
// and waits on it, so a caller inside a task (prod/runtime/task.h) suspends until the loop pushes a
// token or the end (no polling) and a plain thread blocks. load(): healthy, in_flight = requests
// submitted and not ended, capacity = the loop's running + waiting bound.
//
// EngineRuntime (engine_runtime.h) owns a whole in-process engine built from a GGUF file.
//
// Ownership: EngineBackend borrows the clock and the loop (they must outlive it and its streams).
// Thread-safety: start()/load()/name() from any thread or task; a stream is read by one task at a
// time; cancel() and destruction free the sequence's KV blocks at once. Failure behaviour: start()
// returns InvalidArgument for a conversation the template cannot render, top_p outside (0, 1], or a
// prompt beyond the context
// ("prompt of N tokens exceeds the context of M tokens"), Unavailable when the loop's waiting queue is
// full; an engine failure mid-stream is an InferenceEvent::failure; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ports/clock.h"
#include "ports/inference.h"
#include "prod/engine/model/llama_loader.h"
#include "prod/engine/serving/engine_loop.h"
#include "prod/engine/tokenizer/chat_template.h"
#include "prod/engine/tokenizer/tokenizer.h"

namespace chatscale::engine {

struct EngineBackendConfig {
  std::string name = "engine";
  std::string model;                // the model name reported (OpenAI "model")
  std::string region;
  std::int64_t default_max_tokens = 0;  // for requests with max_tokens 0; 0: up to the context
};

class EngineBackend : public InferenceBackend {
 public:
  EngineBackend(Clock& clock, EngineLoop& loop, Tokenizer tokenizer, ChatFormat format, EngineBackendConfig config);

  const std::string& name() const override { return config_.name; }
  BackendLoad load() const override;
  Result<std::unique_ptr<InferenceStream>> start(const InferenceRequest& request) override;

  const EngineBackendConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The prompt ids start() would submit for these messages.
  Result<std::vector<std::int32_t>> encode_messages(const std::vector<ChatTurn>& messages) const;

 private:
  Clock& clock_;
  EngineLoop& loop_;
  Tokenizer tokenizer_;
  ChatFormat format_;
  EngineBackendConfig config_;
  std::vector<std::int32_t> eog_ids_;
};

}  // namespace chatscale::engine
