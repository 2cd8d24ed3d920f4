// Accounts and credentials through the real routes: register, login, refresh (rotation, reuse, expiry),
// logout, logout-all, /me, API keys; bad,
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

Reply refresh_with(ApiHarness& h, const std::string& token) {
  return h.call("POST", "/auth/refresh", nlohmann::json{{"refresh_token", token}}.dump());
}

TEST(AuthApi, RefreshRotatesAndReuseRevokesTheSession) {
  ApiHarness h;
  Reply reg = h.call("POST", "/auth/register", credentials("rot@example.com", "correct horse battery"));
  ASSERT_EQ(reg.status, 201) << reg.body;
  std::string r1 = reg.json()["refresh_token"];
  EXPECT_EQ(r1.rfind("rt-", 0), 0u) << "opaque, not a JWT";
  EXPECT_EQ(h.store.writes(), 2) << "the user and the session's first token";

  Reply first = refresh_with(h, r1);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string r2 = first.json()["refresh_token"];
  EXPECT_NE(r2, r1);
  EXPECT_EQ(h.call_as(first.json()["access_token"], "GET", "/me").status, 200);
  Reply second = refresh_with(h, r2);
  ASSERT_EQ(second.status, 200) << second.body;
  std::string r3 = second.json()["refresh_token"];

  // r1 again: someone kept a copy. The whole session ends, r3 (the newest) included.
  Reply reuse = refresh_with(h, r1);
  EXPECT_EQ(reuse.status, 401);
  EXPECT_NE(reuse.body.find("reused"), std::string::npos) << reuse.body;
  Reply after = refresh_with(h, r3);
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.body.find("revoked"), std::string::npos) << after.body;

  // A second login is a new session, untouched by the first one's revocation.
  Reply login = h.call("POST", "/auth/login", credentials("rot@example.com", "correct horse battery"));
  ASSERT_EQ(login.status, 200);
  EXPECT_EQ(refresh_with(h, login.json()["refresh_token"]).status, 200);
  EXPECT_EQ(refresh_with(h, "rt-" + std::string(43, 'A')).status, 401) << "never issued";
}

TEST(AuthApi, LogoutEndsOneSessionAndLogoutAllEndsEvery) {
  ApiHarness h;
  ASSERT_EQ(h.call("POST", "/auth/register", credentials("out@example.com", "correct horse battery")).status, 201);
  auto login = [&] { return h.call("POST", "/auth/login", credentials("out@example.com", "correct horse battery")); };
  Reply laptop = login(), phone = login(), tablet = login();
  ASSERT_EQ(laptop.status, 200);
  ASSERT_EQ(phone.status, 200);
  ASSERT_EQ(tablet.status, 200);
  std::string other = h.call("POST", "/auth/register", credentials("else@example.com", "correct horse battery"))
                          .json()["refresh_token"];

  Reply out = h.call("POST", "/auth/logout", nlohmann::json{{"refresh_token", laptop.json()["refresh_token"]}}.dump());
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_EQ(refresh_with(h, laptop.json()["refresh_token"]).status, 401);
  Reply phone2 = refresh_with(h, phone.json()["refresh_token"]);
  ASSERT_EQ(phone2.status, 200) << "other sessions live on";
  EXPECT_EQ(h.call("POST", "/auth/logout", R"({"refresh_token": "rt-unknown"})").status, 401);
  EXPECT_EQ(h.call("POST", "/auth/logout", "{}").status, 400);

  EXPECT_EQ(h.call("POST", "/auth/logout-all").status, 401) << "needs a bearer";
  Reply all = h.call_as(tablet.json()["access_token"], "POST", "/auth/logout-all");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json()["revoked_sessions"], 3) << "registration, phone, tablet; the laptop's was already ended";
  EXPECT_EQ(refresh_with(h, phone2.json()["refresh_token"]).status, 401);
  EXPECT_EQ(refresh_with(h, tablet.json()["refresh_token"]).status, 401);
  EXPECT_EQ(refresh_with(h, other).status, 200) << "another user's session is untouched";
  // Access tokens are stateless: they stay valid until they expire (access_token_ttl_s).
  EXPECT_EQ(h.call_as(tablet.json()["access_token"], "GET", "/me").status, 200);
}

TEST(AuthApi, ExpiredRefreshTokenIsRefused) {
  HarnessOptions options;
  options.api.refresh_token_ttl_s = 0;  // expires the moment it is issued
  ApiHarness h(options);
  Reply reg = h.call("POST", "/auth/register", credentials("exp@example.com", "correct horse battery"));
  ASSERT_EQ(reg.status, 201);
  Reply refreshed = refresh_with(h, reg.json()["refresh_token"]);
  EXPECT_EQ(refreshed.status, 401);
  EXPECT_NE(refreshed.body.find("expired"), std::string::npos) << refreshed.body;
}

HarnessOptions auth_limited(double logins, double registrations, double failures, const std::string& trusted = "") {
  HarnessOptions options;
  options.api.auth_limits = auth::AuthLimits{logins, registrations, failures, auth::parse_cidrs(trusted).value()};
  return options;
}

Reply login_from(ApiHarness& h, const std::string& email, const std::string& password,
                 const std::string& forwarded_for = "") {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!forwarded_for.empty()) headers.emplace_back("x-forwarded-for", forwarded_for);
  return h.call("POST", "/auth/login", credentials(email, password), headers);
}

TEST(AuthApi, LoginsPerAddressAreLimitedWithRetryAfter) {
  ApiHarness h(auth_limited(3, 100, 100));
  h.register_user("ip@example.com");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(login_from(h, "ip@example.com", "wrong password!", "198.51.100." + std::to_string(i)).status, 401);
  int verifies = h.hasher.verify_calls();
  // The peer (127.0.0.1) is no trusted proxy: X-Forwarded-For changes nothing.
  Reply limited = login_from(h, "ip@example.com", "correct horse battery", "198.51.100.99");
  EXPECT_EQ(limited.status, 429) << limited.body;
  ASSERT_TRUE(limited.header("retry-after").has_value());
  EXPECT_GE(std::stoi(*limited.header("retry-after")), 1);
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error") << limited.body;
  EXPECT_EQ(h.hasher.verify_calls(), verifies) << "a refused attempt costs no password hash";
  EXPECT_EQ(limited.body.find("correct horse"), std::string::npos);
}

TEST(AuthApi, ForwardedForCountsOnlyFromTrustedProxies) {
  ApiHarness h(auth_limited(2, 100, 100, "127.0.0.0/8"));
  h.register_user("xff@example.com");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(login_from(h, "xff@example.com", "correct horse battery", "198.51.100.1").status, 200);
  EXPECT_EQ(login_from(h, "xff@example.com", "correct horse battery", "203.0.113.77, 198.51.100.1").status, 429)
      << "the proxy appended the client; the forged entry before it does not count";
  EXPECT_EQ(login_from(h, "xff@example.com", "correct horse battery", "198.51.100.2").status, 200)
      << "another client behind the same proxy has its own allowance";
  EXPECT_EQ(login_from(h, "xff@example.com", "correct horse battery").status, 200) << "the proxy itself";
}

TEST(AuthApi, RegistrationsPerAddressAreLimited) {
  ApiHarness h(auth_limited(100, 2, 100));
  EXPECT_EQ(h.call("POST", "/auth/register", credentials("r1@example.com", "correct horse battery")).status, 201);
  EXPECT_EQ(h.call("POST", "/auth/register", credentials("r2@example.com", "correct horse battery")).status, 201);
  Reply third = h.call("POST", "/auth/register", credentials("r3@example.com", "correct horse battery"));
  EXPECT_EQ(third.status, 429);
  EXPECT_TRUE(third.header("retry-after").has_value());
  EXPECT_FALSE(h.store.find_user_by_email("r3@example.com", ReadOptions{}).is_ok());
}

TEST(AuthApi, FailedLoginsPerAccountBackOff) {
  ApiHarness h(auth_limited(100, 100, 2));
  h.register_user("victim@example.com");
  h.register_user("bystander@example.com");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(login_from(h, "bystander@example.com", "correct horse battery").status, 200) << "successes cost nothing";
  EXPECT_EQ(login_from(h, "victim@example.com", "guess one!").status, 401);
  EXPECT_EQ(login_from(h, "VICTIM@example.com", "guess two!").status, 401);
  Reply locked = login_from(h, "victim@example.com", "correct horse battery");
  EXPECT_EQ(locked.status, 429) << "even the right password waits: the guesser cannot tell";
  EXPECT_TRUE(locked.header("retry-after").has_value());
  EXPECT_EQ(login_from(h, "bystander@example.com", "correct horse battery").status, 200);
  // Unknown accounts back off alike, so a 429 does not reveal that an account exists.
  EXPECT_EQ(login_from(h, "ghost@example.com", "guess one!").status, 401);
  EXPECT_EQ(login_from(h, "ghost@example.com", "guess two!").status, 401);
  EXPECT_EQ(login_from(h, "ghost@example.com", "guess three!").status, 429);
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
