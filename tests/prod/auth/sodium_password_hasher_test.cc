#include "auth/sodium_password_hasher.h"

#include <gtest/gtest.h>

#include <string>

namespace chatscale {
namespace {

// The MIN limits keep each hash well under a millisecond; the algorithm and format are the same.
SodiumPasswordHasher fast_hasher() {
  auto h = SodiumPasswordHasher::create(PwhashLimits::minimum());
  EXPECT_TRUE(h.is_ok()) << h.status().to_string();
  return std::move(h).value();
}

TEST(SodiumPasswordHasher, HashThenVerify) {
  SodiumPasswordHasher hasher = fast_hasher();
  Result<std::string> h = hasher.hash("correct horse battery staple");
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=8,t=1,p=1$")) << *h;
  Result<bool> ok = hasher.verify("correct horse battery staple", *h);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_TRUE(*ok);
}

TEST(SodiumPasswordHasher, WrongPasswordIsFalse) {
  SodiumPasswordHasher hasher = fast_hasher();
  std::string h = *hasher.hash("hunter2");
  EXPECT_FALSE(*hasher.verify("hunter3", h));
  EXPECT_FALSE(*hasher.verify("Hunter2", h));
  EXPECT_FALSE(*hasher.verify("", h));
  EXPECT_FALSE(*hasher.verify(std::string(5000, 'x'), h));
}

TEST(SodiumPasswordHasher, SaltMakesHashesDiffer) {
  SodiumPasswordHasher hasher = fast_hasher();
  std::string a = *hasher.hash("same password");
  std::string b = *hasher.hash("same password");
  EXPECT_NE(a, b);
  EXPECT_TRUE(*hasher.verify("same password", a));
  EXPECT_TRUE(*hasher.verify("same password", b));
}

TEST(SodiumPasswordHasher, MalformedHashIsAnError) {
  SodiumPasswordHasher hasher = fast_hasher();
  std::string good = *hasher.hash("pw");
  std::string embedded_nul = good;
  embedded_nul[5] = '\0';
  for (const std::string& bad :
       {std::string(""), std::string("plaintext"), std::string("$argon2id$"),
        good.substr(0, good.find("$m=")), std::string("$argon2id$v=19$m=8,t=1,p=1$!!!$!!!"),
        std::string("$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
        std::string("fake$733ec559845c8942ee01dcbba29ef7a44e31bc38a6184bc7f044155f7a3ec0f8"),
        good + std::string(200, 'A'), embedded_nul}) {
    Result<bool> r = hasher.verify("pw", bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(hasher.needs_rehash(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SodiumPasswordHasher, PasswordBounds) {
  SodiumPasswordHasher hasher = fast_hasher();
  EXPECT_EQ(hasher.hash("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.hash(std::string(1025, 'x')).status().code(), StatusCode::kInvalidArgument);
  std::string longest(1024, 'x');
  std::string h = *hasher.hash(longest);
  EXPECT_TRUE(*hasher.verify(longest, h));
}

TEST(SodiumPasswordHasher, NeedsRehashWhenLimitsChange) {
  SodiumPasswordHasher weak = fast_hasher();
  auto stronger = SodiumPasswordHasher::create(PwhashLimits{2, 16 * 1024});
  ASSERT_TRUE(stronger.is_ok());
  std::string h = *weak.hash("pw");
  EXPECT_FALSE(*weak.needs_rehash(h));
  EXPECT_TRUE(*stronger->needs_rehash(h));
  std::string h2 = *stronger->hash("pw");
  EXPECT_TRUE(h2.starts_with("$argon2id$v=19$m=16,t=2,p=1$")) << h2;
  EXPECT_FALSE(*stronger->needs_rehash(h2));
  EXPECT_TRUE(*stronger->verify("pw", h));  // old hashes still verify
}

TEST(SodiumPasswordHasher, Argon2iHashVerifiesButNeedsRehash) {
  // Made once by crypto_pwhash_str_alg(..., "pw", opslimit 3, memlimit 8 KiB, ALG_ARGON2I13): an
  // older algorithm that still verifies, but should be replaced by argon2id at the next login.
  const std::string argon2i =
      "$argon2i$v=19$m=8,t=3,p=1$73nQF5g2IvuZJE6QwE4bEQ$QZYIb6WzUJfXGX6kviItrhCJLxXJwzaFDfDW0UJePGs";
  SodiumPasswordHasher hasher = fast_hasher();
  EXPECT_TRUE(*hasher.verify("pw", argon2i));
  EXPECT_FALSE(*hasher.verify("pW", argon2i));
  EXPECT_TRUE(*hasher.needs_rehash(argon2i));
}

TEST(SodiumPasswordHasher, CreateChecksLimits) {
  EXPECT_EQ(SodiumPasswordHasher::create(PwhashLimits{0, 8192}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SodiumPasswordHasher::create(PwhashLimits{1, 1024}).status().code(),
            StatusCode::kInvalidArgument);
  auto defaults = SodiumPasswordHasher::create();
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_EQ(defaults->limits().opslimit, 2u);
  EXPECT_EQ(defaults->limits().memlimit, 64u * 1024 * 1024);
}

}  // namespace
}  // namespace chatscale
