// prod/db pieces that need no server: LSN text, PgConfig validation, opaque cursors, the exception
// mapping, and the serve.yaml readers of `chatscale migrate`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/except>
#include <stdexcept>

#include "prod/db/migrate_command.h"
#include "prod/db/migrations.h"
#include "prod/db/pg_database.h"
#include "prod/db/pg_error.h"
#include "prod/db/pg_stores_internal.h"

namespace chatscale::db {
namespace {

TEST(LsnTest, ParsesPostgresText) {
  EXPECT_EQ(parse_lsn("16/B374D848").value(), 0x16B374D848ull);
  EXPECT_EQ(parse_lsn("0/0").value(), 0u);
  EXPECT_EQ(parse_lsn("FFFFFFFF/FFFFFFFF").value(), ~0ull);
  EXPECT_EQ(parse_lsn("0/3000060").value(), 0x3000060ull);
  for (const char* bad : {"", "/", "16/", "/B3", "16B374D848", "1/2/3", "G/0", "100000000/0", "0/100000000", " 1/2", "-1/2"})
    EXPECT_FALSE(parse_lsn(bad).is_ok()) << bad;
  for (Lsn lsn : {0ull, 1ull, 0x16B374D848ull, ~0ull}) EXPECT_EQ(parse_lsn(format_lsn(lsn)).value(), lsn);
  EXPECT_EQ(format_lsn(0x16B374D848ull), "16/B374D848");
}

TEST(PgConfigTest, ValidateNamesTheField) {
  PgConfig ok;
  ok.primary = {"primary", "host=x", "r"};
  ok.replicas = {{"replica1", "host=y", "r"}};
  EXPECT_TRUE(validate(ok).is_ok());
  auto expect_bad = [&](PgConfig c, const std::string& field) {
    Status s = validate(c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  };
  PgConfig c = ok;
  c.primary.dsn = "";
  expect_bad(c, "database.primary.dsn");
  c = ok;
  c.replicas[0].name = "primary";
  expect_bad(c, "database.replicas[0].name");
  c = ok;
  c.pool_size = 0;
  expect_bad(c, "pool_size");
  c = ok;
  c.replica_poll_s = 0;
  expect_bad(c, "replica_poll");
  c = ok;
  c.statement_timeout_ms = -1;
  expect_bad(c, "statement_timeout_ms");
  c = ok;
  c.router.max_lag_seconds = -1;
  EXPECT_FALSE(validate(c).is_ok());
}

TEST(CursorTest, RoundTripsAndRejectsForgeries) {
  const std::string cursor = internal::encode_cursor("c", {"1718000000.5", "ab|cd"});
  auto fields = internal::decode_cursor("c", 2, cursor);
  ASSERT_TRUE(fields.is_ok());
  EXPECT_EQ((*fields)[0], "1718000000.5");
  EXPECT_EQ((*fields)[1], "ab|cd");
  EXPECT_FALSE(internal::decode_cursor("m", 2, cursor).is_ok());  // another listing's cursor
  EXPECT_FALSE(internal::decode_cursor("c", 1, internal::encode_cursor("c", {})).is_ok());
  EXPECT_FALSE(internal::decode_cursor("c", 2, "").is_ok());
  EXPECT_FALSE(internal::decode_cursor("c", 2, "c|1|2").is_ok());  // not base64url
  EXPECT_EQ(internal::f8(0.1), "0.10000000000000001");
  EXPECT_EQ(std::strtod(internal::f8(1718000000.987654).c_str(), nullptr), 1718000000.987654);
}

TEST(PgErrorTest, MapsExceptionsWithoutLeakingTheirText) {
  const std::string secret = "alice@example.com";
  auto unique = pqxx::unique_violation("duplicate key: Key (email)=(" + secret + ")", "INSERT ...", "23505");
  Status s = pg_status(unique, "create_user");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message().find(secret), std::string::npos);
  EXPECT_EQ(pg_status(pqxx::sql_error("canceling statement due to statement timeout", "q", "57014"), "op").code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_EQ(pg_status(pqxx::sql_error("conflict with recovery", "q", "40001"), "op").code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg_status(pqxx::sql_error("read-only", "q", "25006"), "op").code(), StatusCode::kUnavailable);
  Status other = pg_status(pqxx::sql_error("value " + secret + " too long", "q", "22001"), "op");
  EXPECT_EQ(other.code(), StatusCode::kInternal);
  EXPECT_EQ(other.message().find(secret), std::string::npos);
  EXPECT_NE(other.message().find("22001"), std::string::npos);
  EXPECT_EQ(pg_status(pqxx::broken_connection("server closed the connection"), "op").code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg_status(pqxx::in_doubt_error("lost during commit"), "op").code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg_status(std::runtime_error("x"), "op").code(), StatusCode::kInternal);
}

TEST(MigrationsTest, EmbeddedFilesAreOrderedAndNamed) {
  const auto& all = embedded_migrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[0].name, "init");
  EXPECT_NE(all[0].sql.find("CREATE TABLE messages"), std::string_view::npos);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].version, all[i - 1].version);
}

class MigrateConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("chatscale-migrate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text) {
    const std::string path = (dir_ / "serve.yaml").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(MigrateConfigTest, ReadsThePrimaryDsnAndTheContentKeys) {
  const std::string path = write(
      "database:\n  primary: {name: primary, dsn: \"host=127.0.0.1 port=5 dbname=x\", region: local}\n"
      "secrets:\n  content_keys:\n    - {id: k2, key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}\n"
      "    - {id: k1, key_env: CHATSCALE_TEST_CONTENT_KEY}\n");
  EXPECT_EQ(primary_dsn_from_config(path).value(), "host=127.0.0.1 port=5 dbname=x");
  ::setenv("CHATSCALE_TEST_CONTENT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
  auto keys = content_keys_from_config(path);
  ::unsetenv("CHATSCALE_TEST_CONTENT_KEY");
  ASSERT_TRUE(keys.is_ok()) << keys.status().to_string();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, "k2");
  EXPECT_EQ((*keys)[1].key.size(), 32u);
  auto unset = content_keys_from_config(path);  // the variable is gone now
  EXPECT_EQ(unset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unset.status().message().find(":6:"), std::string::npos) << unset.status().message();
}

TEST_F(MigrateConfigTest, ProblemsNameTheFileLineAndField) {
  auto no_db = primary_dsn_from_config(write("listen: {port: 0}\n"));
  EXPECT_EQ(no_db.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_db.status().message().find("database"), std::string::npos);
  auto no_dsn = primary_dsn_from_config(write("io_threads: 2\ndatabase:\n  primary: {name: p}\n"));
  EXPECT_NE(no_dsn.status().message().find("serve.yaml:3: database.primary.dsn"), std::string::npos)
      << no_dsn.status().message();
  auto broken = primary_dsn_from_config(write("database: [\n"));
  EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(primary_dsn_from_config((dir_ / "missing.yaml").string()).status().code(), StatusCode::kNotFound);
  auto short_key = content_keys_from_config(write("secrets:\n  content_keys:\n    - {id: k1, key: \"c2VjcmV0\"}\n"));
  EXPECT_EQ(short_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(short_key.status().message().find("c2VjcmV0"), std::string::npos);
}

TEST_F(MigrateConfigTest, CommandExitCodes) {
  EXPECT_EQ(migrate_command({"--help"}), 0);
  EXPECT_EQ(migrate_command({}), 2);
  EXPECT_EQ(migrate_command({"--dsn", "host=x", "--config", "y"}), 2);
  EXPECT_EQ(migrate_command({"--bogus"}), 2);
  EXPECT_EQ(migrate_command({"--dsn", "host=x", "--rotate-content-keys"}), 2);
  EXPECT_EQ(migrate_command({"--config", (dir_ / "missing.yaml").string()}), 2);
  // Nothing listens on port 1: a database failure, not bad input.
  EXPECT_EQ(migrate_command({"--dsn", "host=127.0.0.1 port=1 dbname=x user=y connect_timeout=2"}), 1);
}

}  // namespace
}  // namespace chatscale::db
