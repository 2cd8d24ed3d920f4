// ContentCipher: encryption at rest of message contents and conversation titles, with libsodium's
// XChaCha20-Poly1305 (IETF AEAD, 24-byte random nonces, so random nonces never collide in practice).
//
// Sealed form (text, safe in a PostgreSQL text column and in logs of row sizes):
//   "cs1." <key id> "." base64url(nonce || ciphertext || tag)      (no padding)
// The key id names the key that sealed it, so rows sealed under older keys keep opening after a new
// key is put first (rotation: the first key seals, every key opens; rotate_content_keys re-seals old
// rows). The associated data authenticated with each value is "cs1.<key id>." + the caller's
// associated data; callers bind the row (e.g. "message:<id>", "conversation:<id>"), so a ciphertext
// moved to another row, or to another key id, fails to open.
//
// Ownership: a ContentCipher owns copies of its keys (wiped with sodium_memzero when destroyed); it is
// movable, not copyable. Thread-safety: seal/open are const and safe from any number of threads.
// Failure: errors are values; texts never contain key material or plaintext. create(): InvalidArgument
// (no keys, a key not 32 bytes, a duplicate or malformed id: [A-Za-z0-9_-], 1..64 characters), Internal
// when libsodium cannot initialise. open(): FailedPrecondition when the key id is not configured,
// Internal when the text is malformed or fails authentication (tampered, moved between rows, wrong key).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chatscale::db {

struct ContentKey {
  std::string id;   // short label, e.g. "k1"; stored in every sealed value
  std::string key;  // exactly 32 raw bytes
};

class ContentCipher {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::string_view kVersion = "cs1";

  // The first key seals; all open.
  static Result<ContentCipher> create(std::vector<ContentKey> keys);
  ~ContentCipher();
  ContentCipher(ContentCipher&&) noexcept = default;
  ContentCipher& operator=(ContentCipher&&) noexcept = default;
  ContentCipher(const ContentCipher&) = delete;
  ContentCipher& operator=(const ContentCipher&) = delete;

  Result<std::string> seal(std::string_view plaintext, std::string_view associated_data) const;
  Result<std::string> open(std::string_view sealed, std::string_view associated_data) const;

  // The id of the sealing key, and the "cs1.<id>." prefix of everything it seals.
  const std::string& current_key_id() const { return keys_.front().id; }
  std::string current_prefix() const;
  // The key id a sealed value names, or nullopt when it is not in the sealed form.
  static std::optional<std::string_view> key_id_of(std::string_view sealed);

 private:
  struct Key {
    std::string id;
    std::array<unsigned char, kKeyBytes> bytes{};
  };
  explicit ContentCipher(std::vector<Key> keys) : keys_(std::move(keys)) {}
  const Key* find(std::string_view id) const;

  std::vector<Key> keys_;
};

// Parses serve.yaml's content key form: base64 (standard alphabet, with padding) of 32 bytes.
// InvalidArgument naming the key id (never its value) otherwise.
Result<ContentKey> content_key_from_base64(std::string id, std::string_view base64);

}  // namespace chatscale::db
