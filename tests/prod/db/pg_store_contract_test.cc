// The storage ports' contract (store_contract.h) against PgStores on a real PostgreSQL primary with two
// streaming replicas (LocalServices): the same suite the in-memory stores pass.
#include "tests/prod/db/pg_test_support.h"
#include "tests/prod/db/store_contract.h"

namespace chatscale::contract {
namespace {

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new testing::LocalServicesEnvironment());

struct PgBackend {
  void set_up() {
    fixture_ = std::make_unique<db::test::PgFixture>(db::test::local_config(testing::LocalServicesEnvironment::services()));
    ASSERT_TRUE(fixture_->ok());
  }
  db::PgStores& store() { return *fixture_->stores; }
  Usage usage_of(const std::string& user_id) {
    auto u = fixture_->stores->usage_of(user_id, ReadOptions{0, 0, true});
    EXPECT_TRUE(u.is_ok()) << u.status().to_string();
    return u.is_ok() ? *u : Usage{};
  }
  std::unique_ptr<db::test::PgFixture> fixture_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContractTest, PgBackend);

}  // namespace
}  // namespace chatscale::contract
