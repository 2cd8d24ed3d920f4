// The storage ports' contract (store_contract.h) against the in-memory stores of shared/testing: the
// reference the PostgreSQL adapter is held to (pg_store_contract_test.cc runs the same suite).
#include "testing/memory_stores.h"
#include "tests/prod/db/store_contract.h"

namespace chatscale::contract {
namespace {

struct MemoryBackend {
  void set_up() { store_ = std::make_unique<testing::MemoryStore>(); }
  testing::MemoryStore& store() { return *store_; }
  Usage usage_of(const std::string& user_id) { return store_->usage_of(user_id); }
  std::unique_ptr<testing::MemoryStore> store_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StoreContractTest, MemoryBackend);

}  // namespace
}  // namespace chatscale::contract
