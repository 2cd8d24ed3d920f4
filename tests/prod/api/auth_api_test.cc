// Accounts and credentials through the real routes: register, login, refresh, /me, API keys; bad,
// tampered, expired and alg-none tokens refused with 401.
#include <gtest/gtest.h>

#include "api_test_support.h"
#include "auth/sodium_util.h"

namespace chatscale::api::test {
namespace {

std::string credentials(const std::string& email, const std::string& password) {
  return nlohmann::json{{"email", email}, {"password", password}}.dump();
}

TEST(AuthApi, RegisterLoginRefreshAndMe) {
  ApiHarness h;
  Reply reg = h.call("POST", "/auth/register", credentials("Ada@example.com", "correct horse battery"));
  ASSERT_EQ(reg.status, 201) << reg.body;
  auto body = reg.json();
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_EQ(body["user"]["email"], "Ada@example.com");
  EXPECT_EQ(body["user"]["tier"], "free");
  EXPECT_FALSE(body["user"].contains("password_hash"));
  EXPECT_TRUE(reg.header("x-chatscale-read-token").has_value());
  EXPECT_EQ(h.hasher.hash_calls(), 2);  // the login timing equaliser, then the password

  Reply login = h.call("POST", "/auth/login", credentials("ada@EXAMPLE.com", "correct horse battery"));
  ASSERT_EQ(login.status, 200) << login.body;
  std::string access = login.json()["access_token"];
  std::string refresh = login.json()["refresh_token"];

  Reply me = h.call_as(access, "GET", "/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["user"]["id"], body["user"]["id"]);
  EXPECT_TRUE(me.header("x-ratelimit-limit-requests").has_value()) << "rate-limit headers on every response";

  Reply refreshed = h.call("POST", "/auth/refresh", nlohmann::json{{"refresh_token", refresh}}.dump());
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(h.call_as(refreshed.json()["access_token"], "GET", "/me").status, 200);

  // Each token only does its own job.
  EXPECT_EQ(h.call_as(refresh, "GET", "/me").status, 401);
  EXPECT_EQ(h.call("POST", "/auth/refresh", nlohmann::json{{"refresh_token", access}}.dump()).status, 401);
}

TEST(AuthApi, RegistrationIsValidated) {
  ApiHarness h;
  EXPECT_EQ(h.call("POST", "/auth/register", credentials("not-an-email", "long enough pw")).status, 400);
  EXPECT_EQ(h.call("POST", "/auth/register", credentials("a@b.co", "short")).status, 400);
  EXPECT_EQ(h.call("POST", "/auth/register", R"({"email": "a@b.co"})").status, 400);
  EXPECT_EQ(h.call("POST", "/auth/register", R"({"email": "a@b.co", "password": "long enough pw", "admin": true})").status,
            400);
  EXPECT_EQ(h.call("POST", "/auth/register", R"({"email": 7, "password": "long enough pw"})").status, 400);
  EXPECT_EQ(h.store.writes(), 0) << "nothing stored for refused registrations";
  ASSERT_EQ(h.call("POST", "/auth/register", credentials("a@b.co", "long enough pw")).status, 201);
  Reply again = h.call("POST", "/auth/register", credentials("A@B.CO", "another password"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["error"]["code"], "already_exists");
}

TEST(AuthApi, LoginFailuresLookAlike) {
  ApiHarness h;
  h.register_user("bob@example.com", "correct horse battery");
  int verifies = h.hasher.verify_calls();
  Reply wrong = h.call("POST", "/auth/login", credentials("bob@example.com", "wrong password!"));
  Reply unknown = h.call("POST", "/auth/login", credentials("nobody@example.com", "wrong password!"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.json(), unknown.json()) << "the answer does not tell which accounts exist";
  EXPECT_EQ(h.hasher.verify_calls(), verifies + 2) << "an unknown e-mail costs a verification too";
}

TEST(AuthApi, BadTokensAreRefused) {
  ApiHarness h;
  std::string token = h.register_user("carol@example.com");
  std::string user_id = h.user_id_of("carol@example.com");
  ASSERT_EQ(h.call_as(token, "GET", "/me").status, 200);

  Reply missing = h.call("GET", "/me");
  EXPECT_EQ(missing.status, 401);
  EXPECT_TRUE(missing.header("www-authenticate").has_value());
  EXPECT_EQ(h.call("GET", "/me", "", {{"authorization", "Basic dXNlcjpwdw=="}}).status, 401);

  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(h.call_as(tampered, "GET", "/me").status, 401);

  double now = h.clock.now();
  Claims expired{user_id, "free", now - 7200, now - 3600, 0, "", "access"};
  EXPECT_EQ(h.call_as(h.jwt.issue(expired), "GET", "/me").status, 401);

  // alg "none", no signature, with claims that would otherwise pass.
  Claims valid{user_id, "plus", now, now + 600, 0, "", "access"};
  std::string payload = h.jwt.issue(valid);
  payload = payload.substr(payload.find('.') + 1);
  payload = payload.substr(0, payload.find('.'));
  std::string none = base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  EXPECT_EQ(h.call_as(none, "GET", "/me").status, 401);

  // Signed with another secret.
  auto other = JwtCodec::create(std::string(40, 'x')).value();
  EXPECT_EQ(h.call_as(other.issue(valid), "GET", "/me").status, 401);
}

TEST(AuthApi, ApiKeysCreateUseListRevoke) {
  ApiHarness h;
  std::string token = h.register_user("dan@example.com");
  Reply created = h.call_as(token, "POST", "/me/api-keys", R"({"name": "laptop"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string key = created.json()["key"];
  std::string key_id = created.json()["api_key"]["id"];
  EXPECT_TRUE(is_api_key_format(key));
  EXPECT_EQ(created.json()["api_key"]["prefix"], key.substr(0, 7));

  Reply me = h.call_as(key, "GET", "/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["user"]["email"], "dan@example.com");

  Reply list = h.call_as(token, "GET", "/me/api-keys");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["data"].size(), 1u);
  EXPECT_EQ(list.body.find(key), std::string::npos) << "the key is shown once, never listed";

  // Another user cannot revoke it.
  std::string eve = h.register_user("eve@example.com");
  EXPECT_EQ(h.call_as(eve, "DELETE", "/me/api-keys/" + key_id).status, 404);
  EXPECT_EQ(h.call_as(key, "GET", "/me").status, 200);

  EXPECT_EQ(h.call_as(token, "DELETE", "/me/api-keys/" + key_id).status, 204);
  Reply revoked = h.call_as(key, "GET", "/me");
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.json()["error"]["message"].get<std::string>().find("revoked"), std::string::npos);
  // A well-formed key that was never issued.
  EXPECT_EQ(h.call_as("cs-" + std::string(43, 'A'), "GET", "/me").status, 401);
}

}  // namespace
}  // namespace chatscale::api::test
