#include "auth/api_key.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chatscale {
namespace {

constexpr std::string_view kPepper = "pepper-for-tests-0123456789abcdef";  // 33 bytes
constexpr std::string_view kFixedKey = "cs-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

ApiKeyHasher hasher(std::string_view pepper = kPepper) {
  auto h = ApiKeyHasher::create(std::string(pepper));
  EXPECT_TRUE(h.is_ok()) << h.status().to_string();
  return std::move(h).value();
}

TEST(ApiKey, GeneratedKeysHaveTheDocumentedShapeAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Result<std::string> key = generate_api_key();
    ASSERT_TRUE(key.is_ok());
    EXPECT_EQ(key->size(), kApiKeyLength);
    EXPECT_TRUE(key->starts_with("cs-"));
    EXPECT_TRUE(is_api_key_format(*key)) << *key;
    seen.insert(*key);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ApiKey, FormatCheck) {
  EXPECT_TRUE(is_api_key_format(kFixedKey));
  std::string key(kFixedKey);
  EXPECT_FALSE(is_api_key_format(key.substr(0, 45)));
  EXPECT_FALSE(is_api_key_format(key + "A"));
  EXPECT_FALSE(is_api_key_format("sk-" + key.substr(3)));
  std::string bad_char = key;
  bad_char[10] = '+';
  EXPECT_FALSE(is_api_key_format(bad_char));
  std::string padding_bits = key;
  padding_bits.back() = 'B';  // the last character's two low bits must be zero
  EXPECT_FALSE(is_api_key_format(padding_bits));
  EXPECT_FALSE(is_api_key_format("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
}

TEST(ApiKey, HashMatchesReferenceKeyedBlake2b) {
  // Python: hashlib.blake2b(key, key=pepper, digest_size=32).hexdigest()
  EXPECT_EQ(hasher().hash(kFixedKey),
            "7bb40a69cc6e55e423de81cbaeea2b9866f6a0d582a803cd0f965d062e72b430");
}

TEST(ApiKey, HashDependsOnKeyAndPepper) {
  ApiKeyHasher h = hasher();
  std::string key = *generate_api_key();
  EXPECT_EQ(h.hash(key), h.hash(key));
  EXPECT_NE(h.hash(key), h.hash(*generate_api_key()));
  EXPECT_NE(h.hash(key), hasher("another-pepper-0123456789abcdefgh").hash(key));
}

TEST(ApiKey, Matches) {
  ApiKeyHasher h = hasher();
  std::string key = *generate_api_key();
  std::string stored = h.hash(key);
  EXPECT_TRUE(h.matches(key, stored));
  EXPECT_FALSE(h.matches(*generate_api_key(), stored));
  EXPECT_FALSE(h.matches(key, stored.substr(1)));
  EXPECT_FALSE(h.matches(key, ""));
  std::string flipped = stored;
  flipped[63] = flipped[63] == '0' ? '1' : '0';
  EXPECT_FALSE(h.matches(key, flipped));
}

TEST(ApiKey, PepperLength) {
  EXPECT_EQ(ApiKeyHasher::create(std::string(31, 'p')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeyHasher::create(std::string(65, 'p')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ApiKeyHasher::create(std::string(32, 'p')).is_ok());
  EXPECT_TRUE(ApiKeyHasher::create(std::string(64, 'p')).is_ok());
}

TEST(BearerToken, Accepted) {
  EXPECT_EQ(*bearer_token("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(*bearer_token("bearer abc"), "abc");
  EXPECT_EQ(*bearer_token("  BEARER \t abc  "), "abc");
  EXPECT_EQ(*bearer_token("Bearer a-b_c~d+e/f=="), "a-b_c~d+e/f==");
  EXPECT_EQ(*bearer_token(std::string("Bearer ") + std::string(kFixedKey)), kFixedKey);
}

void expect_rejected(std::string_view header, const std::string& message) {
  Result<std::string> r = bearer_token(header);
  ASSERT_FALSE(r.is_ok()) << header;
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(r.status().message(), message) << header;
}

TEST(BearerToken, Rejected) {
  expect_rejected("", "missing Authorization header");
  expect_rejected("   ", "missing Authorization header");
  expect_rejected("Basic dXNlcjpwYXNz", "Authorization scheme is not Bearer");
  expect_rejected("Bearerabc", "Authorization scheme is not Bearer");
  expect_rejected("Bearer", "Authorization header has no bearer token");
  expect_rejected("Bearer   ", "Authorization header has no bearer token");
  expect_rejected("Bearer a b", "bearer token has characters outside token68");
  expect_rejected("Bearer ==", "bearer token has characters outside token68");
  expect_rejected("Bearer a=b", "bearer token has characters outside token68");
  expect_rejected("Bearer abc\r\n", "bearer token has characters outside token68");
  expect_rejected("Bearer " + std::string(8193, 'a'), "bearer token is longer than 8192 bytes");
}

}  // namespace
}  // namespace chatscale
