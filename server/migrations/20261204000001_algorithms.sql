-- Several signing algorithms (SPEC §13). Each key records the JWS algorithm it signs with (an
-- RSA key signs RS256 or PS256, so the certificate alone cannot say); each tenant records the
-- type its new keys get. Every key and tenant before this signed RS256 with 2048-bit keys.
ALTER TABLE signing_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE keysets ADD COLUMN signing_alg TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE keysets ADD COLUMN key_size BIGINT NOT NULL DEFAULT 2048;
