-- Client-secret hashing keys of retired master keys. A client's secret is stored only as an HMAC
-- under a key derived from the master key that was current when the client was created (its id is
-- the client's `secret_key_id`). The HMAC cannot be recomputed without the secret, so when the
-- master key is rotated the old derived key is kept here, sealed (AES-256-GCM) under the new master
-- key like the private signing keys, and re-sealed by every later rotation.
CREATE TABLE client_hash_keys (
    secret_key_id TEXT PRIMARY KEY,
    -- Nonce and ciphertext of the 32-byte hashing key.
    sealed_key BYTEA NOT NULL,
    -- The master key that sealed it.
    master_key_id TEXT NOT NULL
);
