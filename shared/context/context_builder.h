// Context builder: chooses what of a conversation is sent to the model for a new user message, within
// the model's context window by tokens.
//
// The turns, in order: the system prompt (always, unless empty), then the most recent history that
// fits, whole messages only and oldest first, then the new user message (always). The budget is
//   context_window_tokens - max_tokens >= sum over turns of (tokens(content) + per_message_overhead)
// and prompt_tokens is that sum. History is taken newest first and stops at the first message that does
// not fit, so what is kept is one contiguous recent stretch of the conversation (no gaps).
// Assistant messages that ended early (partial, or left streaming by a crashed writer) are kept when
// they have content, since the user saw it, and skipped when empty.
//
// Ownership: borrows its inputs for the call only; returns owned turns.
// Thread-safety: a pure function; the tokenizer must be safe to call from the calling thread.
// Failure behaviour: InvalidArgument for a non-positive window or negative max_tokens or overhead, and
// when the system prompt and the new message alone do not fit:
//   "message of N tokens exceeds the context window of M tokens minus max_tokens K"
// (with the tokens taken by the system prompt and chat template appended when there are any).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ports/tokenizer.h"
#include "ports/types.h"

namespace chatscale {

struct ContextBudget {
  std::int64_t context_window_tokens = 0;    // the model's window (prompt + completion)
  std::int64_t max_tokens = 0;               // reserved for the answer
  std::int64_t per_message_overhead_tokens = 4;  // chat-template tokens around each turn
};

struct BuiltContext {
  std::vector<ChatTurn> turns;        // chronological; system first, the new user message last
  std::int64_t prompt_tokens = 0;     // tokens of all turns, overhead included
  std::int64_t dropped_messages = 0;  // history messages left out for the budget (the oldest)
  std::int64_t skipped_messages = 0;  // empty partial assistant messages left out by rule
};

// `history` is the stored conversation oldest first, without the new message.
Result<BuiltContext> build_context(std::string_view system_prompt, std::span<const Message> history,
                                   std::string_view user_message, const Tokenizer& tokenizer,
                                   const ContextBudget& budget);

}  // namespace chatscale
