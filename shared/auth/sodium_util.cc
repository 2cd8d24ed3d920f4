#include "auth/sodium_util.h"

#include <sodium.h>

namespace chatscale {

Status sodium_ready() {
  // sodium_init returns 0 on first success, 1 when already initialised, -1 on failure.
  static const int init_result = sodium_init();
  if (init_result < 0) return internal_error("libsodium failed to initialise");
  return Status::ok();
}

std::string base64url_encode(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.size() - 1);  // drop the terminating NUL written by libsodium
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 1, '\0');
  size_t out_len = 0;
  const char* end = nullptr;
  // libsodium stops at the first character outside the alphabet and reports where through `end`;
  // anything left unconsumed means the text was not pure base64url.
  int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                             text.size(), nullptr, &out_len, &end,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (rc != 0 || end != text.data() + text.size()) {
    return invalid_argument("not valid base64url (unpadded, URL-safe alphabet)");
  }
  out.resize(out_len);
  return out;
}

std::string hex_encode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.resize(bytes.size() * 2);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace chatscale
