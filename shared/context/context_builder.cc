#include "context/context_builder.h"

#include <algorithm>
#include <string>

namespace chatscale {
namespace {

// An assistant message that ended early carries what the user saw; with nothing in it, it carries
// nothing the model needs and an empty assistant turn only confuses chat templates.
bool worth_sending(const Message& m) {
  if (m.role != Role::kAssistant || m.status == MessageStatus::kComplete) return true;
  return !m.content.empty();
}

Status check_budget(const ContextBudget& budget) {
  if (budget.context_window_tokens <= 0) return invalid_argument("context window must be positive");
  if (budget.max_tokens < 0) return invalid_argument("max_tokens must not be negative");
  if (budget.per_message_overhead_tokens < 0) {
    return invalid_argument("per-message overhead must not be negative");
  }
  return Status::ok();
}

Status oversize_error(std::int64_t message_tokens, std::int64_t fixed_extra, const ContextBudget& b) {
  std::string m = "message of " + std::to_string(message_tokens) +
                  " tokens exceeds the context window of " + std::to_string(b.context_window_tokens) +
                  " tokens minus max_tokens " + std::to_string(b.max_tokens);
  if (fixed_extra > 0) {
    m += " (the system prompt and chat template take " + std::to_string(fixed_extra) + " more)";
  }
  return invalid_argument(std::move(m));
}

}  // namespace

Result<BuiltContext> build_context(std::string_view system_prompt, std::span<const Message> history,
                                   std::string_view user_message, const Tokenizer& tokenizer,
                                   const ContextBudget& budget) {
  CS_RETURN_IF_ERROR(check_budget(budget));
  const std::int64_t overhead = budget.per_message_overhead_tokens;
  const std::int64_t available = budget.context_window_tokens - budget.max_tokens;

  const std::int64_t system_cost =
      system_prompt.empty() ? 0 : tokenizer.count_tokens(system_prompt) + overhead;
  const std::int64_t user_tokens = tokenizer.count_tokens(user_message);
  std::int64_t used = system_cost + user_tokens + overhead;
  if (used > available) return oversize_error(user_tokens, system_cost + overhead, budget);

  // Newest first: keep while the next older message fits, stop at the first that does not.
  BuiltContext out;
  std::vector<const Message*> kept;
  std::size_t i = history.size();
  for (; i > 0; --i) {
    const Message& m = history[i - 1];
    if (!worth_sending(m)) {
      ++out.skipped_messages;
      continue;
    }
    std::int64_t cost = tokenizer.count_tokens(m.content) + overhead;
    if (used + cost > available) break;
    used += cost;
    kept.push_back(&m);
  }
  // Everything older than the stop point is dropped (empty partials are still only skipped).
  out.dropped_messages = static_cast<std::int64_t>(
      std::count_if(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(i), worth_sending));
  out.skipped_messages += static_cast<std::int64_t>(i) - out.dropped_messages;

  out.turns.reserve(kept.size() + 2);
  if (!system_prompt.empty()) out.turns.push_back(ChatTurn{Role::kSystem, std::string(system_prompt)});
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    out.turns.push_back(ChatTurn{(*it)->role, (*it)->content});
  }
  out.turns.push_back(ChatTurn{Role::kUser, std::string(user_message)});
  out.prompt_tokens = used;
  return out;
}

}  // namespace chatscale
