-- Signet's key store. Plain SQL that runs unchanged on SQLite and PostgreSQL (and
-- Postgres-compatible engines): no extensions, times as Unix milliseconds, binary as BYTEA
-- (SQLite keeps blobs as they are whatever the declared type).

-- One row whose version counts every change to the key set. Each transition starts by bumping
-- it, which takes the database's write lock (SQLite) or the row lock (PostgreSQL): transitions
-- from any number of processes are serialised by the database, and readers poll it cheaply.
CREATE TABLE keyset (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO keyset (id, version) VALUES (1, 0);

CREATE TABLE signing_keys (
    -- Never reused: revoked keys keep their row.
    kid TEXT PRIMARY KEY CHECK (length(kid) = 21),
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'previous', 'revoked')),
    cert_der BYTEA NOT NULL,
    -- Nonce and AES-256-GCM ciphertext of the PKCS#8 private key; erased on revocation.
    private_key BYTEA,
    master_key_id TEXT,
    created_at BIGINT NOT NULL,
    current_since BIGINT,
    current_until BIGINT,
    revoked_at BIGINT,
    CHECK ((state = 'revoked') = (private_key IS NULL)),
    CHECK ((private_key IS NULL) = (master_key_id IS NULL)),
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL)),
    -- Every key but the next one has been current; previous and revoked keys have stopped being it.
    CHECK ((state = 'next') = (current_since IS NULL)),
    CHECK ((state IN ('previous', 'revoked')) = (current_until IS NOT NULL))
);

-- At most one current and one next key; transitions keep it at exactly one of each.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
CREATE INDEX signing_keys_revoked_at ON signing_keys (revoked_at);

-- One event per change to the key set; `seq` is the keyset version the change produced.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kid TEXT,
    remote_addr TEXT,
    detail TEXT NOT NULL
);
