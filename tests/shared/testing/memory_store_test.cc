// The in-memory store's API-key semantics: the contract the PostgreSQL adapter must also meet.
#include <gtest/gtest.h>

#include "testing/memory_stores.h"

namespace chatscale::testing {
namespace {

ApiKey key_of(const std::string& user, const std::string& hash, double at) {
  ApiKey k;
  k.user_id = user;
  k.name = "laptop";
  k.key_hash = hash;
  k.prefix = "cs-abcd";
  k.created_at = at;
  return k;
}

TEST(MemoryStoreApiKeys, CreateFindListRevoke) {
  MemoryStore store;
  auto a = store.create_api_key(key_of("u1", "h1", 10));
  ASSERT_TRUE(a.is_ok());
  EXPECT_FALSE(a->value.id.empty());
  EXPECT_GT(a->lsn, 0u);
  auto b = store.create_api_key(key_of("u1", "h2", 20));
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(store.create_api_key(key_of("u2", "h1", 30)).status().code(), StatusCode::kAlreadyExists);

  auto found = store.find_api_key("h2", {});
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(store.find_api_key("nope", {}).status().code(), StatusCode::kNotFound);

  auto list = store.list_api_keys("u1", {});
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key_hash, "h2");  // newest first
  EXPECT_TRUE(store.list_api_keys("u2", {})->empty());

  // Another user cannot revoke it; revoking twice keeps the first time.
  EXPECT_EQ(store.revoke_api_key("u2", a->value.id, 40).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.revoke_api_key("u1", a->value.id, 50).is_ok());
  ASSERT_TRUE(store.revoke_api_key("u1", a->value.id, 60).is_ok());
  EXPECT_EQ(store.find_api_key("h1", {})->revoked_at, 50);
}

}  // namespace
}  // namespace chatscale::testing
