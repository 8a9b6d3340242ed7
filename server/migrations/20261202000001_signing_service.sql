-- The signing service (SPEC §11): each client's signing policy, and the usage ledger.

-- Audiences a client may sign for (space-separated; audiences hold no spaces) and the longest
-- lifetime (exp - iat) it may ask for.
ALTER TABLE clients ADD COLUMN signing_audiences TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN max_lifetime_seconds BIGINT NOT NULL DEFAULT 3600;

-- One row per key and per server process that signed with it: only that process writes it, so
-- no two processes ever race on a row. `reserved_until` (Unix seconds) is written before any
-- token expiring after it is signed, so it is never earlier than the real latest exp; the
-- counts and `latest_expiry` are flushed every second and lag by at most that after a crash.
CREATE TABLE key_usage (
    kid TEXT NOT NULL,
    writer TEXT NOT NULL,
    tokens_signed BIGINT NOT NULL,
    first_signed_at BIGINT,
    last_signed_at BIGINT,
    latest_expiry BIGINT,
    reserved_until BIGINT NOT NULL,
    PRIMARY KEY (kid, writer)
);
