#include "auth/jwt.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "auth/sodium_util.h"

namespace chatscale {
namespace {

using nlohmann::json;

constexpr std::string_view kAlgorithm = "HS256";
constexpr size_t kSignatureBytes = crypto_auth_hmacsha256_BYTES;

Status reject(std::string message) { return unauthenticated(std::move(message)); }

// Attacker-controlled text goes into messages and logs: keep it short and printable.
std::string shown(std::string_view text) {
  constexpr size_t kMaxShown = 32;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string format_time(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", t);
  return buf;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  crypto_auth_hmacsha256_state state;
  unsigned char mac[kSignatureBytes];
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(&state, sizeof state);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

// The three dot-separated segments of a compact JWS, still encoded.
struct TokenParts {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload", what the MAC covers
};

Result<TokenParts> split_token(std::string_view token) {
  if (token.size() > JwtCodec::kMaxTokenBytes) {
    return reject("token is " + std::to_string(token.size()) + " bytes, more than the limit of " +
                  std::to_string(JwtCodec::kMaxTokenBytes));
  }
  if (token.empty()) return reject("token is empty");
  size_t parts = std::count(token.begin(), token.end(), '.') + 1;
  if (parts != 3) {
    return reject("token has " + std::to_string(parts) +
                  " parts, expected 3 (header.payload.signature)");
  }
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  TokenParts out;
  out.header = token.substr(0, first);
  out.payload = token.substr(first + 1, second - first - 1);
  out.signature = token.substr(second + 1);
  out.signing_input = token.substr(0, second);
  return out;
}

Result<json> decode_json_object(std::string_view encoded, const std::string& what) {
  Result<std::string> bytes = base64url_decode(encoded);
  if (!bytes.is_ok()) return reject("token " + what + " is not valid base64url");
  json parsed = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return reject("token " + what + " is not valid JSON");
  if (!parsed.is_object()) return reject("token " + what + " is not a JSON object");
  return parsed;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Validates the JOSE header; returns the "kid" when present.
Result<std::optional<std::string>> check_header(const json& header) {
  auto alg = header.find("alg");
  if (alg == header.end()) return reject("token header has no 'alg'");
  if (!alg->is_string()) return reject("token header 'alg' is not a string");
  const auto& alg_name = alg->get_ref<const std::string&>();
  if (alg_name != kAlgorithm) {
    return reject("token algorithm " + shown(alg_name) + " is not allowed (only HS256)");
  }
  auto typ = header.find("typ");
  if (typ != header.end()) {
    if (!typ->is_string() || !equals_ignoring_case(typ->get_ref<const std::string&>(), "JWT")) {
      return reject("token type " + shown(typ->is_string() ? typ->get<std::string>() : typ->dump()) +
                    " is not JWT");
    }
  }
  // RFC 7515 4.1.11: a recipient that does not understand a critical extension must reject.
  if (header.contains("crit")) return reject("token header lists critical extensions ('crit')");
  auto kid = header.find("kid");
  if (kid == header.end()) return std::optional<std::string>();
  if (!kid->is_string()) return reject("token header 'kid' is not a string");
  return std::optional<std::string>(kid->get<std::string>());
}

struct CheckedHeader {
  TokenParts parts;
  std::optional<std::string> kid;
  std::string signature;  // decoded MAC bytes
};

Result<CheckedHeader> check_structure(std::string_view token) {
  CS_ASSIGN_OR_RETURN(TokenParts parts, split_token(token));
  CS_ASSIGN_OR_RETURN(json header, decode_json_object(parts.header, "header"));
  CS_ASSIGN_OR_RETURN(std::optional<std::string> kid, check_header(header));
  Result<std::string> signature = base64url_decode(parts.signature);
  if (!signature.is_ok()) return reject("token signature is not valid base64url");
  if (signature->size() != kSignatureBytes) {
    return reject("token signature has " + std::to_string(signature->size()) +
                  " bytes, expected " + std::to_string(kSignatureBytes));
  }
  return CheckedHeader{parts, std::move(kid), std::move(*signature)};
}

Result<std::string> decode_payload(const TokenParts& parts) {
  Result<std::string> bytes = base64url_decode(parts.payload);
  if (!bytes.is_ok()) return reject("token payload is not valid base64url");
  return bytes;
}

// Reads an optional string claim into `out`; an error when present with another type.
Status read_string(const json& payload, const char* name, std::string& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return Status::ok();
  if (!it->is_string()) return reject(std::string("token claim '") + name + "' is not a string");
  out = it->get<std::string>();
  return Status::ok();
}

Status read_time(const json& payload, const char* name, double& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return Status::ok();
  if (!it->is_number()) return reject(std::string("token claim '") + name + "' is not a number");
  out = it->get<double>();
  if (!std::isfinite(out)) {
    return reject(std::string("token claim '") + name + "' is not a finite number");
  }
  return Status::ok();
}

Result<Claims> read_claims(const json& payload) {
  if (!payload.contains("sub")) return reject("token has no 'sub' claim");
  if (!payload.contains("exp")) return reject("token has no 'exp' claim");
  Claims claims;
  CS_RETURN_IF_ERROR(read_string(payload, "sub", claims.sub));
  if (claims.sub.empty()) return reject("token claim 'sub' is empty");
  CS_RETURN_IF_ERROR(read_string(payload, "tier", claims.tier));
  CS_RETURN_IF_ERROR(read_string(payload, "jti", claims.jti));
  CS_RETURN_IF_ERROR(read_string(payload, "kind", claims.kind));
  CS_RETURN_IF_ERROR(read_time(payload, "exp", claims.exp));
  CS_RETURN_IF_ERROR(read_time(payload, "iat", claims.iat));
  CS_RETURN_IF_ERROR(read_time(payload, "nbf", claims.nbf));
  if (!claims.kind.empty() && claims.kind != kAccessToken && claims.kind != kRefreshToken) {
    return reject("token kind " + shown(claims.kind) + " is neither access nor refresh");
  }
  return claims;
}

Status check_times(const Claims& c, double now, double leeway) {
  std::string at = " (now " + format_time(now) + ", leeway " + format_time(leeway) + "s)";
  // RFC 7519 4.1.4: the token must not be accepted on or after its expiry time.
  if (c.exp <= now - leeway) return reject("token expired at " + format_time(c.exp) + at);
  if (c.nbf > now + leeway) return reject("token not valid before " + format_time(c.nbf) + at);
  if (c.iat > now + leeway) return reject("token issued in the future at " + format_time(c.iat) + at);
  return Status::ok();
}

json json_time(double t) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::trunc(t) == t && std::fabs(t) < kExactIntegers) return json(static_cast<int64_t>(t));
  return json(t);
}

std::string encode_json(const json& value) {
  // Replace invalid UTF-8 instead of throwing: issue() is total.
  return base64url_encode(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

Status check_leeway(double leeway) {
  if (!std::isfinite(leeway) || leeway < 0) {
    return invalid_argument("JWT leeway must be a finite number of seconds >= 0");
  }
  return Status::ok();
}

}  // namespace

Result<std::string> verify_jwt_signature(std::string_view token, std::string_view secret) {
  CS_ASSIGN_OR_RETURN(CheckedHeader checked, check_structure(token));
  if (!constant_time_equal(hmac_sha256(secret, checked.parts.signing_input), checked.signature)) {
    return reject("token signature does not match");
  }
  return decode_payload(checked.parts);
}

Result<Claims> parse_jwt_claims(std::string_view payload_json, double now, double leeway_seconds) {
  json payload = json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return reject("token payload is not valid JSON");
  if (!payload.is_object()) return reject("token payload is not a JSON object");
  CS_ASSIGN_OR_RETURN(Claims claims, read_claims(payload));
  CS_RETURN_IF_ERROR(check_times(claims, now, leeway_seconds));
  return claims;
}

Result<JwtCodec> JwtCodec::create(std::string secret, double leeway_seconds) {
  std::vector<JwtKey> keys;
  keys.push_back(JwtKey{"", std::move(secret)});
  return create(std::move(keys), leeway_seconds);
}

Result<JwtCodec> JwtCodec::create(std::vector<JwtKey> keys, double leeway_seconds) {
  CS_RETURN_IF_ERROR(sodium_ready());
  CS_RETURN_IF_ERROR(check_leeway(leeway_seconds));
  if (keys.empty()) return invalid_argument("JWT codec needs at least one key");
  std::set<std::string> ids;
  for (const JwtKey& key : keys) {
    if (key.secret.size() < kMinSecretBytes) {
      return invalid_argument("JWT secret " + shown(key.id) + " has " +
                              std::to_string(key.secret.size()) + " bytes, at least " +
                              std::to_string(kMinSecretBytes) + " are required");
    }
    if (!key.id.empty() && !ids.insert(key.id).second) {
      return invalid_argument("JWT key id " + shown(key.id) + " appears twice");
    }
  }
  return JwtCodec(std::move(keys), leeway_seconds);
}

std::string JwtCodec::issue(const Claims& claims) const {
  const JwtKey& key = keys_.front();
  json header = {{"alg", std::string(kAlgorithm)}, {"typ", "JWT"}};
  if (!key.id.empty()) header["kid"] = key.id;
  json payload = {{"sub", claims.sub}, {"exp", json_time(claims.exp)}, {"iat", json_time(claims.iat)}};
  if (claims.nbf != 0) payload["nbf"] = json_time(claims.nbf);
  if (!claims.tier.empty()) payload["tier"] = claims.tier;
  if (!claims.jti.empty()) payload["jti"] = claims.jti;
  if (!claims.kind.empty()) payload["kind"] = claims.kind;
  std::string signing_input = encode_json(header) + "." + encode_json(payload);
  std::string signature = base64url_encode(hmac_sha256(key.secret, signing_input));
  return signing_input + "." + signature;
}

Result<Claims> JwtCodec::verify(std::string_view token, double now) const {
  CS_ASSIGN_OR_RETURN(CheckedHeader checked, check_structure(token));
  bool known_kid = !checked.kid.has_value();
  bool matched = false;
  // Every candidate key is tried, so the time taken does not say which key (if any) matched.
  for (const JwtKey& key : keys_) {
    if (checked.kid.has_value() && key.id != *checked.kid) continue;
    known_kid = true;
    matched |= constant_time_equal(hmac_sha256(key.secret, checked.parts.signing_input),
                                   checked.signature);
  }
  if (!known_kid) return reject("token key id " + shown(*checked.kid) + " is unknown");
  if (!matched) return reject("token signature does not match");
  CS_ASSIGN_OR_RETURN(std::string payload, decode_payload(checked.parts));
  return parse_jwt_claims(payload, now, leeway_);
}

Result<Claims> JwtCodec::verify(std::string_view token, double now,
                                std::string_view expected_kind) const {
  CS_ASSIGN_OR_RETURN(Claims claims, verify(token, now));
  if (claims.kind != expected_kind) {
    std::string actual = claims.kind.empty() ? "no kind" : "kind " + shown(claims.kind);
    return reject("token has " + actual + ", expected " + shown(expected_kind));
  }
  return claims;
}

}  // namespace chatscale
