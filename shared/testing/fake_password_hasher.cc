#include "testing/fake_password_hasher.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>

#include "auth/sodium_util.h"

namespace chatscale::testing {
namespace {

constexpr std::string_view kPrefix = "fake$";
constexpr size_t kDigestBytes = 32;

std::string digest_hex(const std::string& password) {
  unsigned char digest[kDigestBytes];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(password.data()),
                     password.size(), nullptr, 0);
  char hex[kDigestBytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, kDigestBytes * 2);
}

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<std::string> FakePasswordHasher::hash(const std::string& password) {
  ++hash_calls_;
  CS_RETURN_IF_ERROR(sodium_ready());
  if (password.empty()) return invalid_argument("password is empty");
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument("password is longer than " + std::to_string(kMaxPasswordBytes) +
                            " bytes");
  }
  return std::string(kPrefix) + digest_hex(password);
}

Result<bool> FakePasswordHasher::verify(const std::string& password, const std::string& hash) {
  ++verify_calls_;
  CS_RETURN_IF_ERROR(sodium_ready());
  std::string_view view = hash;
  if (!view.starts_with(kPrefix) || view.size() != kPrefix.size() + kDigestBytes * 2 ||
      !is_lower_hex(view.substr(kPrefix.size()))) {
    return invalid_argument("not a fake password hash");
  }
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  return hash == std::string(kPrefix) + digest_hex(password);
}

}  // namespace chatscale::testing
