#include "auth/api_key.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "auth/jwt.h"
#include "auth/sodium_util.h"

namespace chatscale {
namespace {

constexpr size_t kApiKeyHashBytes = 32;

bool is_base64url_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_token68(std::string_view text) {
  size_t body = text.find_last_not_of('=');
  if (body == std::string_view::npos) return false;
  return std::all_of(text.begin(), text.begin() + body + 1, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/';
  });
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace

Result<std::string> generate_api_key() {
  CS_RETURN_IF_ERROR(sodium_ready());
  unsigned char bytes[kApiKeyRandomBytes];
  randombytes_buf(bytes, sizeof bytes);
  std::string key = std::string(kApiKeyPrefix) +
                    base64url_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  sodium_memzero(bytes, sizeof bytes);
  return key;
}

Result<std::string> generate_refresh_token() {
  CS_RETURN_IF_ERROR(sodium_ready());
  unsigned char bytes[kApiKeyRandomBytes];
  randombytes_buf(bytes, sizeof bytes);
  std::string token = std::string(kRefreshTokenPrefix) +
                      base64url_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  sodium_memzero(bytes, sizeof bytes);
  return token;
}

Result<std::string> generate_random_id() {
  CS_RETURN_IF_ERROR(sodium_ready());
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return hex_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

bool is_api_key_format(std::string_view text) {
  if (text.size() != kApiKeyLength || !text.starts_with(kApiKeyPrefix)) return false;
  std::string_view body = text.substr(kApiKeyPrefix.size());
  // The last character carries 2 padding bits, so it is one of the 16 with those bits zero; the
  // strict decoder checks that.
  return std::all_of(body.begin(), body.end(), is_base64url_char) &&
         base64url_decode(body).is_ok();
}

Result<ApiKeyHasher> ApiKeyHasher::create(std::string pepper) {
  CS_RETURN_IF_ERROR(sodium_ready());
  static_assert(kMaxPepperBytes == crypto_generichash_KEYBYTES_MAX);
  if (pepper.size() < kMinPepperBytes || pepper.size() > kMaxPepperBytes) {
    return invalid_argument("API key pepper has " + std::to_string(pepper.size()) +
                            " bytes, it must have between " + std::to_string(kMinPepperBytes) +
                            " and " + std::to_string(kMaxPepperBytes));
  }
  return ApiKeyHasher(std::move(pepper));
}

std::string ApiKeyHasher::hash(std::string_view api_key) const {
  unsigned char digest[kApiKeyHashBytes];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(api_key.data()),
                     api_key.size(), reinterpret_cast<const unsigned char*>(pepper_.data()),
                     pepper_.size());
  return hex_encode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

bool ApiKeyHasher::matches(std::string_view api_key, std::string_view stored_hash) const {
  return constant_time_equal(hash(api_key), stored_hash);
}

Result<std::string> bearer_token(std::string_view authorization_header) {
  std::string_view value = trim(authorization_header);
  if (value.empty()) return unauthenticated("missing Authorization header");
  constexpr std::string_view kScheme = "bearer";
  size_t space = value.find_first_of(" \t");
  std::string_view scheme = value.substr(0, space);
  bool is_bearer = scheme.size() == kScheme.size() &&
                   std::equal(scheme.begin(), scheme.end(), kScheme.begin(), [](char a, char b) {
                     return std::tolower(static_cast<unsigned char>(a)) == b;
                   });
  if (!is_bearer) return unauthenticated("Authorization scheme is not Bearer");
  std::string_view token = space == std::string_view::npos ? "" : trim(value.substr(space));
  if (token.empty()) return unauthenticated("Authorization header has no bearer token");
  if (token.size() > JwtCodec::kMaxTokenBytes) {
    return unauthenticated("bearer token is longer than " +
                           std::to_string(JwtCodec::kMaxTokenBytes) + " bytes");
  }
  if (!is_token68(token)) return unauthenticated("bearer token has characters outside token68");
  return std::string(token);
}

}  // namespace chatscale
