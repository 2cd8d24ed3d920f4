// Accounts and credentials: register, login, refresh (rotation with reuse detection), logout,
// logout-all, the caller's profile and API keys.
// Passwords are hashed and verified on the BlockingPool (argon2id takes tens of milliseconds and
// 64 MiB), never on an I/O thread. Login answers the same way, after the same work, for an unknown
// e-mail and a wrong password, so the response does not tell which accounts exist. Login and register
// are limited per client address, and failed logins per account (prod/auth/auth_limiter.h): 429 with
// Retry-After. Passwords are never logged.
#include <memory>
#include <optional>

#include "auth/api_key.h"
#include "prod/api/api_json.h"
#include "prod/api/api_routes.h"
#include "prod/api/exchange.h"
#include "prod/api/json_body.h"
#include "prod/auth/auth_limiter.h"
#include "prod/auth/client_address.h"
#include "prod/runtime/blocking_pool.h"

namespace chatscale::api {
namespace {

constexpr std::size_t kMinPasswordBytes = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;

Status check_email(const std::string& email) {
  auto at = email.find('@');
  bool shape = at != std::string::npos && at > 0 && at + 1 < email.size() && email.find('@', at + 1) == std::string::npos &&
               email.find('.', at + 1) != std::string::npos;
  for (unsigned char c : email) shape = shape && c > 0x20 && c != 0x7f;
  if (!shape) return invalid_argument("email: not an e-mail address");
  return Status::ok();
}

// A fresh opaque refresh token and its stored record (hash only), valid for refresh_token_ttl_s.
struct IssuedRefresh {
  std::string token;
  RefreshToken record;
};

Result<IssuedRefresh> new_refresh_token(ApiContext& ctx, const std::string& user_id, const std::string& family_id) {
  CS_ASSIGN_OR_RETURN(std::string token, generate_refresh_token());
  double now = ctx.clock.now();
  RefreshToken record{ctx.api_key_hasher.hash(token), family_id, user_id, now, now + ctx.options.refresh_token_ttl_s, 0};
  return IssuedRefresh{std::move(token), std::move(record)};
}

// Both tokens of a session, with the OAuth-style fields clients expect. The access token is a
// short-lived stateless JWT (never stored, not revocable before its expiry); the refresh token is
// opaque and stored hashed.
nlohmann::json token_pair(ApiContext& ctx, const User& user, const std::string& refresh_token) {
  double now = ctx.clock.now();
  Claims access{user.id, user.tier, now, now + ctx.options.access_token_ttl_s, 0, "", std::string(kAccessToken)};
  return {{"access_token", ctx.jwt.issue(access)},
          {"refresh_token", refresh_token},
          {"token_type", "Bearer"},
          {"expires_in", static_cast<std::int64_t>(ctx.options.access_token_ttl_s)},
          {"refresh_expires_in", static_cast<std::int64_t>(ctx.options.refresh_token_ttl_s)}};
}

// A new session (family) for `user`: stores its first refresh token and answers both tokens.
Result<nlohmann::json> start_session(ApiContext& ctx, Exchange& ex, const User& user) {
  CS_ASSIGN_OR_RETURN(std::string family_id, generate_random_id());
  CS_ASSIGN_OR_RETURN(IssuedRefresh issued, new_refresh_token(ctx, user.id, family_id));
  CS_ASSIGN_OR_RETURN(Lsn lsn, ctx.stores.refresh_tokens.create_refresh_token(issued.record));
  ex.add_read_token(lsn);
  return token_pair(ctx, user, issued.token);
}

// The "refresh_token" field of the body; answers 400 and returns nullopt when absent or malformed.
std::optional<std::string> read_refresh_token(Exchange& ex) {
  auto body = ex.json_body();
  if (!body) return std::nullopt;
  std::string token;
  FieldReader fields(*body);
  fields.text("refresh_token", token, TextRule{true, 1, JwtCodec::kMaxTokenBytes});
  if (Status status = fields.finish(); !status.is_ok()) {
    ex.error(status);
    return std::nullopt;
  }
  return token;
}

Status rotation_refusal(RotationOutcome outcome) {
  switch (outcome) {
    case RotationOutcome::kReused:
      return unauthenticated("refresh token reused: it was already exchanged, so the session is revoked");
    case RotationOutcome::kRevoked:
      return unauthenticated("refresh token revoked (logged out)");
    case RotationOutcome::kExpired:
      return unauthenticated("refresh token expired");
    case RotationOutcome::kRotated:
      break;
  }
  return Status::ok();
}

struct Credentials {
  std::string email;
  std::string password;
};

std::optional<Credentials> read_credentials(Exchange& ex) {
  auto body = ex.json_body();
  if (!body) return std::nullopt;
  Credentials c;
  FieldReader fields(*body);
  fields.text("email", c.email, TextRule{true, 3, 254});
  fields.text("password", c.password, TextRule{true, 1, kMaxPasswordBytes});
  Status status = fields.finish();
  if (status.is_ok()) status = check_email(c.email);
  if (!status.is_ok()) {
    ex.error(status);
    return std::nullopt;
  }
  return c;
}

class AuthApi {
 public:
  // Computes the timing equaliser's hash now, at start-up (outside any task, so inline).
  explicit AuthApi(ApiContext& ctx) : ctx_(ctx), limiter_(ctx.rate_limit_store, ctx.options.auth_limits) {
    auto hash = ctx_.passwords.hash("chatscale-login-timing-equaliser");
    dummy_ = hash.is_ok() ? std::move(hash).value() : std::string();
  }

  void register_user(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!admit(ex, limiter_.take_register(client(request), ctx_.clock.now()), "registrations from this address"))
      return;
    auto credentials = read_credentials(ex);
    if (!credentials) return;
    if (credentials->password.size() < kMinPasswordBytes)
      return ex.error(invalid_argument("password: must be at least 8 bytes"));
    auto hash = ctx_.blocking.run([&] { return ctx_.passwords.hash(credentials->password); });
    if (!hash.is_ok()) return ex.error(hash.status());
    User user;
    user.email = credentials->email;
    user.password_hash = std::move(hash).value();
    user.tier = "free";
    user.created_at = ctx_.clock.now();
    auto written = ctx_.stores.users.create_user(user);
    if (!written.is_ok()) {
      if (written.status().code() == StatusCode::kAlreadyExists)
        return ex.error(already_exists("email: an account with this e-mail already exists"));
      return ex.error(written.status());
    }
    ex.add_read_token(written->lsn);
    auto body = start_session(ctx_, ex, written->value);
    if (!body.is_ok()) return ex.error(body.status());
    (*body)["user"] = user_json(written->value);
    ex.json(201, *body);
  }

  void login(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!admit(ex, limiter_.take_login(client(request), ctx_.clock.now()), "login attempts from this address"))
      return;
    auto credentials = read_credentials(ex);
    if (!credentials) return;
    // Unknown e-mails are limited alike: the answer does not tell which accounts exist.
    if (!admit(ex, limiter_.reserve_failure(credentials->email, ctx_.clock.now()), "failed logins for this account"))
      return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    // A replica may not have a brand-new account yet: a miss is asked again of the primary (rare, and
    // cheap next to the password hash that follows either way).
    auto user = ctx_.stores.users.find_user_by_email(credentials->email, *read);
    if (!user.is_ok() && user.status().code() == StatusCode::kNotFound)
      user = ctx_.stores.users.find_user_by_email(credentials->email, ReadOptions{0, 0, true});
    if (!user.is_ok() && user.status().code() != StatusCode::kNotFound) return ex.error(user.status());
    const std::string& hash = user.is_ok() ? user->password_hash : dummy_hash();
    auto verified = ctx_.blocking.run([&] { return ctx_.passwords.verify(credentials->password, hash); });
    const bool failed = !user.is_ok() || !verified.is_ok() || !*verified;
    (void)limiter_.settle(credentials->email, failed, ctx_.clock.now());  // a lost refund only tightens
    if (failed) return ex.error(unauthenticated("wrong e-mail or password"));
    auto body = start_session(ctx_, ex, *user);
    if (!body.is_ok()) return ex.error(body.status());
    (*body)["user"] = user_json(*user);
    ex.json(200, *body);
  }

  // Rotation: the presented token is exchanged for a new pair once; presenting it again revokes the
  // whole session (whoever holds the newer token loses it too), since one of the two holders stole it.
  void refresh(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    auto token = read_refresh_token(ex);
    if (!token) return;
    auto successor = new_refresh_token(ctx_, "", "");
    if (!successor.is_ok()) return ex.error(successor.status());
    auto rotation = ctx_.stores.refresh_tokens.rotate_refresh_token(ctx_.api_key_hasher.hash(*token),
                                                                    successor->record, ctx_.clock.now());
    if (!rotation.is_ok()) {
      if (rotation.status().code() == StatusCode::kNotFound) return ex.error(unauthenticated("invalid refresh token"));
      return ex.error(rotation.status());
    }
    ex.add_read_token(rotation->lsn);
    if (Status refused = rotation_refusal(rotation->outcome); !refused.is_ok()) return ex.error(refused);
    const std::string& user_id = rotation->presented.user_id;
    auto user = ctx_.stores.users.find_user(user_id, ReadOptions{});
    if (!user.is_ok() && user.status().code() == StatusCode::kNotFound)
      user = ctx_.stores.users.find_user(user_id, ReadOptions{0, 0, true});  // a lagging replica
    if (!user.is_ok()) {
      if (user.status().code() == StatusCode::kNotFound) return ex.error(unauthenticated("the account no longer exists"));
      return ex.error(user.status());
    }
    ex.json(200, token_pair(ctx_, *user, successor->token));
  }

  // Ends the session of the presented refresh token (every token of its family). Access tokens
  // already issued stay valid until they expire (access_token_ttl_s): they are stateless.
  void logout(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    auto token = read_refresh_token(ex);
    if (!token) return;
    auto revoked = ctx_.stores.refresh_tokens.revoke_refresh_family(ctx_.api_key_hasher.hash(*token), ctx_.clock.now());
    if (!revoked.is_ok()) {
      if (revoked.status().code() == StatusCode::kNotFound) return ex.error(unauthenticated("invalid refresh token"));
      return ex.error(revoked.status());
    }
    ex.add_read_token(revoked->lsn);
    ex.no_content();
  }

  // Ends every session of the caller (bearer: access token or API key).
  void logout_all(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto revoked = ctx_.stores.refresh_tokens.revoke_user_refresh_families(ex.principal().user_id, ctx_.clock.now());
    if (!revoked.is_ok()) return ex.error(revoked.status());
    ex.add_read_token(revoked->lsn);
    ex.json(200, {{"revoked_sessions", revoked->value}});
  }

  void me(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto user = ctx_.stores.users.find_user(ex.principal().user_id, *read);
    if (!user.is_ok()) return ex.error(user.status());
    ex.json(200, {{"user", user_json(*user)}});
  }

  void create_key(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto body = ex.json_body();
    if (!body) return;
    ApiKey key;
    FieldReader fields(*body);
    fields.text("name", key.name, TextRule{false, 0, 100});
    if (Status status = fields.finish(); !status.is_ok()) return ex.error(status);
    auto existing = ctx_.stores.api_keys.list_api_keys(ex.principal().user_id, ReadOptions{0, 0, true});
    if (!existing.is_ok()) return ex.error(existing.status());
    std::size_t live = 0;
    for (const auto& k : *existing) live += k.revoked_at > 0 ? 0 : 1;
    if (live >= ctx_.options.max_api_keys_per_user)
      return ex.error(failed_precondition("at most " + std::to_string(ctx_.options.max_api_keys_per_user) +
                                          " live API keys per account; revoke one first"));
    auto secret = generate_api_key();
    if (!secret.is_ok()) return ex.error(secret.status());
    key.user_id = ex.principal().user_id;
    key.key_hash = ctx_.api_key_hasher.hash(*secret);
    key.prefix = secret->substr(0, 7);
    key.created_at = ctx_.clock.now();
    auto written = ctx_.stores.api_keys.create_api_key(key);
    if (!written.is_ok()) return ex.error(written.status());
    ex.add_read_token(written->lsn);
    ex.json(201, {{"api_key", api_key_json(written->value)}, {"key", *secret}});
  }

  void list_keys(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto read = ex.read_options();
    if (!read.is_ok()) return ex.error(read.status());
    auto keys = ctx_.stores.api_keys.list_api_keys(ex.principal().user_id, *read);
    if (!keys.is_ok()) return ex.error(keys.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& key : *keys) data.push_back(api_key_json(key));
    ex.json(200, {{"data", data}});
  }

  void revoke_key(http::HttpRequest& request, http::ResponseWriter& writer) {
    Exchange ex(ctx_, request, writer);
    if (!ex.authenticate()) return;
    auto lsn = ctx_.stores.api_keys.revoke_api_key(ex.principal().user_id, request.param("id"), ctx_.clock.now());
    if (!lsn.is_ok()) return ex.error(lsn.status());
    ex.add_read_token(*lsn);
    ex.no_content();
  }

 private:
  std::string client(const http::HttpRequest& request) const {
    return auth::client_address(request.remote, request.header("x-forwarded-for"), limiter_.limits().trusted_proxies);
  }

  // False (answered 429 with Retry-After, or the store's error) unless the decision allows.
  static bool admit(Exchange& ex, const Result<RateDecision>& decision, const char* what) {
    if (!decision.is_ok()) {
      ex.error(decision.status());
      return false;
    }
    if (decision->allowed) return true;
    ex.set_rate_headers({{"Retry-After", rate_limit_headers(*decision).back().second}});
    ex.error(auth::AuthLimiter::refusal(*decision, what));
    return false;
  }

  // A real hash, verified when the e-mail is unknown so that both failures cost the same work.
  const std::string& dummy_hash() const { return dummy_; }

  ApiContext& ctx_;
  auth::AuthLimiter limiter_;
  std::string dummy_;
};

}  // namespace

Routes auth_routes(ApiContext& ctx) {
  auto api = std::make_shared<AuthApi>(ctx);
  auto bind = [api](void (AuthApi::*method)(http::HttpRequest&, http::ResponseWriter&)) {
    return [api, method](http::HttpRequest& request, http::ResponseWriter& writer) { ((*api).*method)(request, writer); };
  };
  return {
      {"POST", "/auth/register", bind(&AuthApi::register_user)},
      {"POST", "/auth/login", bind(&AuthApi::login)},
      {"POST", "/auth/refresh", bind(&AuthApi::refresh)},
      {"POST", "/auth/logout", bind(&AuthApi::logout)},
      {"POST", "/auth/logout-all", bind(&AuthApi::logout_all)},
      {"GET", "/me", bind(&AuthApi::me)},
      {"POST", "/me/api-keys", bind(&AuthApi::create_key)},
      {"GET", "/me/api-keys", bind(&AuthApi::list_keys)},
      {"DELETE", "/me/api-keys/{id}", bind(&AuthApi::revoke_key)},
  };
}

}  // namespace chatscale::api
