#include "core/status.h"

#include <gtest/gtest.h>

namespace chatscale {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("must be positive");
  return v;
}

Result<int> doubled(int v) {
  CS_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check(int v) {
  CS_RETURN_IF_ERROR(parse_positive(v).status());
  return Status::ok();
}

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::ok().is_ok());
  Status s = not_found("conversation 7");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.to_string(), "NOT_FOUND: conversation 7");
}

TEST(Status, MacrosPropagate) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(check(3).is_ok());
  EXPECT_EQ(check(0).code(), StatusCode::kInvalidArgument);
}

TEST(Status, HttpMappingIsTheDesignedOne) {
  EXPECT_EQ(http_status(StatusCode::kOk), 200);
  EXPECT_EQ(http_status(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(http_status(StatusCode::kPermissionDenied), 404);
  EXPECT_EQ(http_status(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(http_status(StatusCode::kRateLimited), 429);
  EXPECT_EQ(http_status(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(http_status(StatusCode::kInternal), 500);
  EXPECT_EQ(openai_error_type(StatusCode::kRateLimited), "rate_limit_error");
  EXPECT_EQ(openai_error_type(StatusCode::kUnauthenticated), "authentication_error");
}

TEST(Status, EveryCodeHasANameAndAStatus) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    auto code = static_cast<StatusCode>(c);
    EXPECT_NE(status_code_name(code), "UNKNOWN");
    int h = http_status(code);
    EXPECT_GE(h, 200);
    EXPECT_LT(h, 600);
  }
}

}  // namespace
}  // namespace chatscale
