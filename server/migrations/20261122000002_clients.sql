-- Machine clients of the Management API. Secrets are 256-bit random values, stored only as a
-- keyed SHA-256 (HMAC) under a key derived from the master key, whose id is kept beside it.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    secret_key_id TEXT NOT NULL,
    -- Space-separated granted scopes.
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Rotation rate limits count recent rotations in the audit log.
CREATE INDEX audit_events_action_at ON audit_events (action, at);
