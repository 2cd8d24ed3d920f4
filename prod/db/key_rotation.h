// Content key rotation: re-seals every message content and conversation title that is not sealed
// under the cipher's current (first) key, in batches, so an old key can be retired once it reports 0.
// Procedure: put the new key first in secrets.content_keys (keeping the old ones), restart the
// service (new rows are sealed under the new key), run `chatscale migrate --rotate-content-keys
// --config serve.yaml`, then drop the old key from the configuration.
//
// Each batch is one transaction on the primary: SELECT ... FOR UPDATE of up to batch_size rows whose
// sealed text does not start with the current key's prefix, open each under its old key and seal it
// again, bound to the same row, then UPDATE. A concurrent update_message either waits for the batch or
// is waited for (a row it re-sealed meanwhile no longer matches); nothing is lost. The run ends when a
// batch finds nothing: then no row is left under an old key.
//
// Ownership: one connection for the call. Thread-safety: safe alongside a running service and other
// rotations (row locks). Failure: errors are values. A row sealed under a key the cipher lacks is
// FailedPrecondition naming the key id (not the row's content), and stops the run; rows re-sealed
// before it stay re-sealed. Connection problems Unavailable.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "prod/db/content_cipher.h"

namespace chatscale::db {

struct RotationReport {
  std::int64_t messages = 0;       // message contents re-sealed
  std::int64_t conversations = 0;  // conversation titles re-sealed
};

Result<RotationReport> rotate_content_keys(const std::string& dsn, const ContentCipher& cipher, int batch_size = 500);

}  // namespace chatscale::db
