// Strict reading of JSON request bodies: a body is parsed (size-bounded, duplicate keys refused, no
// exception escaping) into an object, and a FieldReader takes its fields one by one with type and range
// checks, then refuses every key nobody asked for. The first problem wins and reads as an
// InvalidArgument "field: problem" ("max_tokens: must be an integer between 1 and 8192"), so a client
// sees exactly what is wrong, and a handler checks one Status before it touches any store.
//
// Ownership: FieldReader borrows the parsed object, which must outlive it.
// Thread-safety: values; one reader per request.
// Failure behaviour: errors are values; nothing throws (nlohmann's exceptions are caught here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace chatscale::api {

// Parses `body` as one JSON object. InvalidArgument for an empty body, a syntax error (with nlohmann's
// line and column), a duplicate key at any depth, or a non-object top level; PayloadTooLarge over
// `max_bytes`.
Result<nlohmann::json> parse_json_object(std::string_view body, std::size_t max_bytes);

// Rules for a text field.
struct TextRule {
  bool required = false;
  std::size_t min_bytes = 0;
  std::size_t max_bytes = 1 << 20;
  bool allow_nul = false;  // PostgreSQL text cannot hold U+0000; stored fields refuse it
};

class FieldReader {
 public:
  // `prefix` is prepended to field names in messages ("stream_options.").
  explicit FieldReader(const nlohmann::json& object, std::string prefix = "");

  bool has(std::string_view key) const;
  // Each getter leaves `out` untouched when the key is absent (or null, where noted) and records the
  // first problem. Returns true when the key was present and valid.
  bool text(std::string_view key, std::string& out, TextRule rule = {});
  bool integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max, bool required = false);
  bool number(std::string_view key, double& out, double min, double max);
  bool boolean(std::string_view key, bool& out);
  // The raw value of a key (any type, null included), marked as known; nullptr when absent.
  const nlohmann::json* raw(std::string_view key);
  // Accepts the key with any value (a field that is understood and deliberately ignored).
  void ignore(std::string_view key) { known_.emplace(key); }
  // Records a problem for a field ("field: problem"), unless one is already recorded.
  void fail(std::string_view key, std::string_view problem);

  // OK, or the first problem; reports unknown keys (in key order) when nothing else failed.
  Status finish();
  const Status& status() const { return status_; }

 private:
  const nlohmann::json* find(std::string_view key);

  const nlohmann::json& object_;
  std::string prefix_;
  std::set<std::string, std::less<>> known_;
  Status status_;
};

// True when `text` holds a U+0000 byte.
bool contains_nul(std::string_view text);

}  // namespace chatscale::api
