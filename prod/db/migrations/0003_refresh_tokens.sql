-- Refresh tokens in families (one family per login session), for rotation with reuse detection and
-- logout (shared/ports/stores.h RefreshTokenStore). Only a keyed BLAKE2b hash of each token is
-- stored, never the token. A refresh marks the presented token rotated and inserts its successor; a
-- rotated token presented again revokes its whole family (the token was stolen, or its thief won the
-- race). Access tokens are stateless JWTs and are not stored.
CREATE TABLE refresh_families (
  id         text PRIMARY KEY,
  user_id    text NOT NULL,
  created_at double precision NOT NULL,
  revoked_at double precision  -- NULL while the session is live
);
-- logout-all: the user's live families.
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  family_id  text NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
  user_id    text NOT NULL,
  issued_at  double precision NOT NULL,
  expires_at double precision NOT NULL,
  rotated_at double precision  -- NULL while it is the family's live token
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
