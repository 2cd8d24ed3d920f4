// Domain values that cross the ports: users, conversations, messages, usage. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatscale {

// A position in the primary's write-ahead log. A write returns the LSN at which it became durable; a
// later read that must see it carries that LSN as its read-your-writes token.
using Lsn = std::uint64_t;

struct User {
  std::string id;
  std::string email;
  std::string password_hash;  // PHC string from the PasswordHasher port; never logged
  std::string tier = "free";
  double created_at = 0;
};

struct Conversation {
  std::string id;
  std::string owner_id;
  std::string title;
  double created_at = 0;
  double updated_at = 0;
  std::int64_t message_count = 0;
};

enum class Role { kSystem, kUser, kAssistant };
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

// Why a generation ended; the wire names are OpenAI's.
enum class FinishReason { kNone, kStop, kLength, kContentFilter, kError, kCancelled };
std::string_view finish_reason_name(FinishReason reason);

// Lifecycle of a stored message. User messages are stored kComplete before anything streams; an
// assistant message is kStreaming while it is generated (checkpointed), then kComplete, or kPartial
// when the stream ended early (error, cancel, content filter: finish_reason says which).
enum class MessageStatus { kStreaming, kComplete, kPartial };
std::string_view message_status_name(MessageStatus status);

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total() const { return prompt_tokens + completion_tokens; }
};

struct Message {
  std::string id;
  std::string conversation_id;
  Role role = Role::kUser;
  std::string content;
  MessageStatus status = MessageStatus::kComplete;
  FinishReason finish_reason = FinishReason::kNone;
  Usage usage;
  std::string idempotency_key;  // user messages only; unique per conversation when set
  std::string model;
  std::vector<std::string> moderation_categories;  // set when moderation ended or refused it
  double created_at = 0;
  std::int64_t seq = 0;  // position in the conversation, assigned by the store
};

// A user's API key as stored: only a keyed hash of the key (shared/auth/api_key.h), never the key.
struct ApiKey {
  std::string id;
  std::string user_id;
  std::string name;        // the user's label for it
  std::string key_hash;    // ApiKeyHasher::hash of the key; the lookup key
  std::string prefix;      // the key's first characters, shown in listings ("cs-AbCd")
  double created_at = 0;
  double revoked_at = 0;   // 0 while the key is live
};

struct ChatTurn {
  Role role = Role::kUser;
  std::string content;
};

}  // namespace chatscale
