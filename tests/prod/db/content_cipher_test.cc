// ContentCipher: sealed values open with their associated data only, name their key, survive key
// rotation, and reject tampering, row swaps and unknown keys; bad key sets are refused.
#include "prod/db/content_cipher.h"

#include <gtest/gtest.h>

#include <string>

namespace chatscale::db {
namespace {

ContentKey key(const std::string& id, char fill) { return ContentKey{id, std::string(32, fill)}; }

ContentCipher cipher(std::vector<ContentKey> keys) {
  auto c = ContentCipher::create(std::move(keys));
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(c).value();
}

TEST(ContentCipherTest, SealOpenRoundTripsAnyBytes) {
  ContentCipher c = cipher({key("k1", 'a')});
  const std::string texts[] = {"", "hello", std::string("nul\0inside", 10), std::string(1 << 20, 'x'),
                               "\xF0\x9F\x98\x80 unicode \xE2\x82\xAC"};
  for (const auto& text : texts) {
    auto sealed = c.seal(text, "message/c/m");
    ASSERT_TRUE(sealed.is_ok());
    EXPECT_EQ(sealed->rfind("cs1.k1.", 0), 0u);
    auto opened = c.open(*sealed, "message/c/m");
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    EXPECT_EQ(*opened, text);
  }
}

TEST(ContentCipherTest, SealedTextHidesThePlaintextAndUsesFreshNonces) {
  ContentCipher c = cipher({key("k1", 'a')});
  auto a = c.seal("the secret plan", "ad");
  auto b = c.seal("the secret plan", "ad");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find("secret"), std::string::npos);
}

TEST(ContentCipherTest, WrongAssociatedDataFailsToOpen) {
  ContentCipher c = cipher({key("k1", 'a')});
  auto sealed = c.seal("zebra-secret", "message/c1/m1");
  ASSERT_TRUE(sealed.is_ok());
  auto moved = c.open(*sealed, "message/c1/m2");
  EXPECT_EQ(moved.status().code(), StatusCode::kInternal);
  EXPECT_EQ(moved.status().message().find("zebra"), std::string::npos);
}

TEST(ContentCipherTest, TamperingIsDetected) {
  ContentCipher c = cipher({key("k1", 'a')});
  auto sealed = c.seal("some content", "ad");
  ASSERT_TRUE(sealed.is_ok());
  std::string t = *sealed;
  t[t.size() - 3] = t[t.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(c.open(t, "ad").status().code(), StatusCode::kInternal);
  EXPECT_EQ(c.open("cs1.k1.", "ad").status().code(), StatusCode::kInternal);
  EXPECT_EQ(c.open("plain text", "ad").status().code(), StatusCode::kInternal);
  EXPECT_EQ(c.open("cs1.k1.!!!", "ad").status().code(), StatusCode::kInternal);
}

TEST(ContentCipherTest, RotationOpensOldValuesAndSealsUnderTheNewKey) {
  ContentCipher old_cipher = cipher({key("k1", 'a')});
  auto old_sealed = old_cipher.seal("from before", "ad");
  ASSERT_TRUE(old_sealed.is_ok());
  ContentCipher rotated = cipher({key("k2", 'b'), key("k1", 'a')});
  EXPECT_EQ(rotated.current_key_id(), "k2");
  EXPECT_EQ(rotated.current_prefix(), "cs1.k2.");
  auto opened = rotated.open(*old_sealed, "ad");
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_EQ(*opened, "from before");
  auto fresh = rotated.seal("after", "ad");
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_EQ(ContentCipher::key_id_of(*fresh), std::optional<std::string_view>("k2"));
  // A cipher that lost k1 cannot open old values: a configuration problem, said as such.
  ContentCipher only_new = cipher({key("k2", 'b')});
  EXPECT_EQ(only_new.open(*old_sealed, "ad").status().code(), StatusCode::kFailedPrecondition);
}

TEST(ContentCipherTest, ASealedValueCannotBeRelabelledToAnotherKey) {
  ContentCipher c = cipher({key("k1", 'a'), key("k2", 'a')});  // same bytes, different ids
  auto sealed = c.seal("text", "ad");
  ASSERT_TRUE(sealed.is_ok());
  std::string relabelled = "cs1.k2." + sealed->substr(std::string("cs1.k1.").size());
  EXPECT_EQ(c.open(relabelled, "ad").status().code(), StatusCode::kInternal);
}

TEST(ContentCipherTest, BadKeySetsAreRefusedWithoutEchoingKeys) {
  EXPECT_EQ(ContentCipher::create({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ContentCipher::create({ContentKey{"k1", "short-secret"}}).status().code(), StatusCode::kInvalidArgument);
  auto bad = ContentCipher::create({ContentKey{"k1", "short-secret"}});
  EXPECT_EQ(bad.status().message().find("short-secret"), std::string::npos);
  EXPECT_EQ(ContentCipher::create({key("k1", 'a'), key("k1", 'b')}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ContentCipher::create({key("bad.id", 'a')}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ContentCipher::create({key("", 'a')}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ContentCipherTest, KeysFromBase64) {
  // base64 of 32 bytes 0x00..0x1f
  auto k = content_key_from_base64("k1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  ASSERT_TRUE(k.is_ok()) << k.status().to_string();
  EXPECT_EQ(k->key.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(k->key[31]), 0x1f);
  EXPECT_EQ(content_key_from_base64("k1", "AAEC").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(content_key_from_base64("k1", "not base64!").status().code(), StatusCode::kInvalidArgument);
}

TEST(ContentCipherTest, KeyIdOf) {
  EXPECT_EQ(ContentCipher::key_id_of("cs1.k1.abc"), std::optional<std::string_view>("k1"));
  EXPECT_EQ(ContentCipher::key_id_of("cs2.k1.abc"), std::nullopt);
  EXPECT_EQ(ContentCipher::key_id_of("cs1.k1"), std::nullopt);
  EXPECT_EQ(ContentCipher::key_id_of(""), std::nullopt);
}

}  // namespace
}  // namespace chatscale::db
