-- The dashboard's operator: one password (argon2id PHC string) and its sign-in sessions.
CREATE TABLE operator (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL
);

-- Only a SHA-256 of each session id is stored: the database alone cannot sign anyone in.
CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
