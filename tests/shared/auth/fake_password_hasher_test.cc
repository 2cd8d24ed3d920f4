#include "testing/fake_password_hasher.h"

#include <gtest/gtest.h>

namespace chatscale {
namespace {

using testing::FakePasswordHasher;

TEST(FakePasswordHasher, HashIsDeterministicBlake2bHex) {
  FakePasswordHasher hasher;
  // Python: "fake$" + hashlib.blake2b(b"hunter2", digest_size=32).hexdigest()
  Result<std::string> h = hasher.hash("hunter2");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(*h, "fake$733ec559845c8942ee01dcbba29ef7a44e31bc38a6184bc7f044155f7a3ec0f8");
  EXPECT_EQ(*hasher.hash("hunter2"), *h);
  EXPECT_NE(*hasher.hash("hunter3"), *h);
  EXPECT_EQ(hasher.hash_calls(), 3);
}

TEST(FakePasswordHasher, Verify) {
  FakePasswordHasher hasher;
  std::string h = *hasher.hash("correct horse");
  EXPECT_TRUE(*hasher.verify("correct horse", h));
  EXPECT_FALSE(*hasher.verify("correct horsE", h));
  EXPECT_FALSE(*hasher.verify("", h));
  EXPECT_EQ(hasher.verify_calls(), 3);
}

TEST(FakePasswordHasher, MalformedHashIsAnError) {
  FakePasswordHasher hasher;
  std::string h = *hasher.hash("pw");
  for (std::string bad : {std::string(""), std::string("fake$"), h.substr(1), h + "0",
                          "fake$" + std::string(64, 'G'), std::string("$argon2id$v=19$m=8")}) {
    EXPECT_EQ(hasher.verify("pw", bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(FakePasswordHasher, RejectsEmptyAndOverlongPasswords) {
  FakePasswordHasher hasher;
  EXPECT_EQ(hasher.hash("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.hash(std::string(1025, 'x')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(hasher.hash(std::string(1024, 'x')).is_ok());
}

}  // namespace
}  // namespace chatscale
