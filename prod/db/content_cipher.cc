#include "prod/db/content_cipher.h"

#include <sodium.h>

#include <set>

#include "auth/sodium_util.h"

namespace chatscale::db {
namespace {

constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == ContentCipher::kKeyBytes);

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string header(std::string_view id) {
  std::string h(ContentCipher::kVersion);
  h += '.';
  h += id;
  h += '.';
  return h;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

ContentCipher::~ContentCipher() {
  for (auto& k : keys_) sodium_memzero(k.bytes.data(), k.bytes.size());
}

Result<ContentCipher> ContentCipher::create(std::vector<ContentKey> keys) {
  CS_RETURN_IF_ERROR(sodium_ready());
  if (keys.empty()) return invalid_argument("content keys: at least one key is needed");
  std::vector<Key> out;
  std::set<std::string> seen;
  for (auto& k : keys) {
    if (!valid_id(k.id))
      return invalid_argument("content key id \"" + k.id + "\": use 1 to 64 of [A-Za-z0-9_-]");
    if (!seen.insert(k.id).second) return invalid_argument("content key id \"" + k.id + "\" appears twice");
    if (k.key.size() != kKeyBytes)
      return invalid_argument("content key \"" + k.id + "\": must be exactly 32 bytes (got " +
                              std::to_string(k.key.size()) + ")");
    Key key;
    key.id = k.id;
    std::copy(k.key.begin(), k.key.end(), key.bytes.begin());
    sodium_memzero(k.key.data(), k.key.size());
    out.push_back(std::move(key));
  }
  return ContentCipher(std::move(out));
}

std::string ContentCipher::current_prefix() const { return header(current_key_id()); }

const ContentCipher::Key* ContentCipher::find(std::string_view id) const {
  for (const auto& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

Result<std::string> ContentCipher::seal(std::string_view plaintext, std::string_view associated_data) const {
  const Key& key = keys_.front();
  const std::string head = header(key.id);
  const std::string ad = head + std::string(associated_data);
  std::string box(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonceBytes, &written, bytes(plaintext), plaintext.size(),
                                                 bytes(ad), ad.size(), nullptr, nonce, key.bytes.data()) != 0)
    return internal_error("content encryption failed");
  box.resize(kNonceBytes + written);
  return head + base64url_encode(box);
}

std::optional<std::string_view> ContentCipher::key_id_of(std::string_view sealed) {
  const std::string_view version = kVersion;
  if (sealed.size() < version.size() + 2 || sealed.substr(0, version.size()) != version ||
      sealed[version.size()] != '.')
    return std::nullopt;
  std::string_view rest = sealed.substr(version.size() + 1);
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || !valid_id(rest.substr(0, dot))) return std::nullopt;
  return rest.substr(0, dot);
}

Result<std::string> ContentCipher::open(std::string_view sealed, std::string_view associated_data) const {
  const auto id = key_id_of(sealed);
  if (!id) return internal_error("stored content is not in the sealed form");
  const Key* key = find(*id);
  if (key == nullptr)
    return failed_precondition("stored content is sealed under content key \"" + std::string(*id) +
                               "\", which is not configured");
  const std::string head = header(*id);
  auto box = base64url_decode(sealed.substr(head.size()));
  if (!box.is_ok() || box->size() < kNonceBytes + kTagBytes)
    return internal_error("stored content is malformed");
  const std::string ad = head + std::string(associated_data);
  const auto* nonce = bytes(*box);
  std::string plain(box->size() - kNonceBytes - kTagBytes, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()), &written, nullptr,
                                                 nonce + kNonceBytes, box->size() - kNonceBytes, bytes(ad),
                                                 ad.size(), nonce, key->bytes.data()) != 0)
    return internal_error("stored content failed authentication (tampered, moved between rows, or wrong key)");
  plain.resize(written);
  return plain;
}

Result<ContentKey> content_key_from_base64(std::string id, std::string_view base64) {
  CS_RETURN_IF_ERROR(sodium_ready());
  std::string raw(base64.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), base64.data(), base64.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return invalid_argument("content key \"" + id + "\": not valid base64");
  raw.resize(len);
  if (raw.size() != ContentCipher::kKeyBytes) {
    sodium_memzero(raw.data(), raw.size());
    return invalid_argument("content key \"" + id + "\": must decode to exactly 32 bytes (got " +
                            std::to_string(len) + ")");
  }
  return ContentKey{std::move(id), std::move(raw)};
}

}  // namespace chatscale::db
