#include "ports/types.h"

namespace chatscale {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSystem: return "system";
    case Role::kUser: return "user";
    case Role::kAssistant: return "assistant";
  }
  return "user";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "system") return Role::kSystem;
  if (name == "user") return Role::kUser;
  if (name == "assistant") return Role::kAssistant;
  return std::nullopt;
}

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kContentFilter: return "content_filter";
    case FinishReason::kError: return "error";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "";
}

std::string_view message_status_name(MessageStatus status) {
  switch (status) {
    case MessageStatus::kStreaming: return "streaming";
    case MessageStatus::kComplete: return "complete";
    case MessageStatus::kPartial: return "partial";
  }
  return "complete";
}

}  // namespace chatscale
