-- 0001_init: the chat service's schema. Applied by `chatscale migrate` (prod/db/migrations.h) in one
-- transaction, recorded in schema_migrations. Never edit an applied migration: add 0002_... instead
-- (migrate refuses a database whose recorded checksum differs from the embedded file).
--
-- Conventions:
-- - Ids are text: 32 hex characters of 16 random bytes, chosen by the service (nothing leaks counts);
--   the defaults below only serve hand-written inserts.
-- - Times are double precision seconds since the Unix epoch on the service's Clock (the ports' unit),
--   so every value round-trips exactly.
-- - Message contents and conversation titles are sealed by prod/db/content_cipher.h
--   ("cs1.<key id>.<base64>", XChaCha20-Poly1305 bound to the row id): no plaintext at rest.
-- - Owners are not foreign keys to users: the ports do not require the user row (the in-memory store
--   does not), and accounts are never deleted by the service. Messages cascade with their conversation.

CREATE TABLE users (
  id            text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
  email         text NOT NULL,
  password_hash text NOT NULL,
  tier          text NOT NULL DEFAULT 'free',
  created_at    double precision NOT NULL
);
-- E-mail addresses are unique case-insensitively; find_user_by_email looks up lower(email).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE conversations (
  id            text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
  owner_id      text NOT NULL,
  title         text NOT NULL,  -- sealed
  created_at    double precision NOT NULL,
  updated_at    double precision NOT NULL,
  message_count bigint NOT NULL DEFAULT 0 CHECK (message_count >= 0)
);
-- list_conversations: most recently updated first, keyset cursor (updated_at, id).
CREATE INDEX conversations_owner_updated_idx ON conversations (owner_id, updated_at DESC, id DESC);

CREATE TABLE messages (
  id                    text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
  conversation_id       text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq                   bigint NOT NULL CHECK (seq >= 1),
  role                  text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
  content               text NOT NULL,  -- sealed
  status                text NOT NULL CHECK (status IN ('streaming', 'complete', 'partial')),
  finish_reason         text NOT NULL DEFAULT 'none',
  prompt_tokens         bigint NOT NULL DEFAULT 0,
  completion_tokens     bigint NOT NULL DEFAULT 0,
  idempotency_key       text,  -- NULL when the client sent none
  model                 text NOT NULL DEFAULT '',
  moderation_categories jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at            double precision NOT NULL,
  -- Also the index of recent_messages (newest seq first) and list_messages (seq after the cursor).
  CONSTRAINT messages_conversation_seq_key UNIQUE (conversation_id, seq)
);
-- One message per idempotency key and conversation: a concurrent duplicate append conflicts here.
CREATE UNIQUE INDEX messages_idempotency_key ON messages (conversation_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Token accounting per user, model and UTC day (record_usage adds to the day's row).
CREATE TABLE usage (
  user_id           text NOT NULL,
  model             text NOT NULL,
  day               date NOT NULL,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  requests          bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day, model)
);

-- API keys: only a keyed hash of each key is stored (shared/auth/api_key.h).
CREATE TABLE api_keys (
  id         text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
  user_id    text NOT NULL,
  name       text NOT NULL,
  key_hash   text NOT NULL,
  prefix     text NOT NULL,
  created_at double precision NOT NULL,
  revoked_at double precision,  -- NULL while the key is live
  CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
-- list_api_keys: newest first.
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at DESC, id DESC);
