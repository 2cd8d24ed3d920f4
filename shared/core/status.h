// Errors as values: Status carries a code and a human-readable message; Result<T> carries a value or a
// Status. Every failure crosses a component boundary this way; HTTP codes come from http_status() alone.
// Thread-safety: values; no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace chatscale {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from the caller
  kUnauthenticated,     // missing or bad credentials
  kPermissionDenied,    // authenticated but not allowed; shown as not found (never reveal others' data)
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // state forbids the operation (e.g. conversation deleted mid-flight)
  kPayloadTooLarge,     // a request body or field past its limit
  kRateLimited,         // a per-user limit; the caller may retry after a delay
  kUnavailable,         // overloaded or no healthy backend; retry later
  kDeadlineExceeded,
  kCancelled,           // the caller or an operator stopped the work
  kInternal,
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: conversation 12 does not exist"
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status payload_too_large(std::string m) { return {StatusCode::kPayloadTooLarge, std::move(m)}; }
inline Status rate_limited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// The single mapping from status code to HTTP status. Permission denied maps to 404, so that a
// conversation of another user is indistinguishable from one that does not exist.
int http_status(StatusCode code);
// OpenAI-shaped error "type" for the code (invalid_request_error, authentication_error, ...).
std::string_view openai_error_type(StatusCode code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.is_ok() && "a Result built from a Status must carry an error");
    if (status_.is_ok()) status_ = Status(StatusCode::kInternal, "Result built from an OK status");
  }

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(is_ok()); return *value_; }
  const T& value() const& { assert(is_ok()); return *value_; }
  T&& value() && { assert(is_ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T value_or(T fallback) const& { return is_ok() ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace chatscale

#define CHATSCALE_CONCAT_INNER_(a, b) a##b
#define CHATSCALE_CONCAT_(a, b) CHATSCALE_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is an error.
#define CS_RETURN_IF_ERROR(expr)                             \
  do {                                                       \
    ::chatscale::Status cs_status_ = (expr);                 \
    if (!cs_status_.is_ok()) return cs_status_;              \
  } while (0)

// `CS_ASSIGN_OR_RETURN(auto x, f());` declares x from the value of a Result, or returns its error.
#define CS_ASSIGN_OR_RETURN(lhs, expr) \
  CS_ASSIGN_OR_RETURN_IMPL_(CHATSCALE_CONCAT_(cs_result_, __LINE__), lhs, expr)
#define CS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.is_ok()) return tmp.status();          \
  lhs = std::move(tmp).value()
