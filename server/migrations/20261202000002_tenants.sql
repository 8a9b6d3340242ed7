-- Several tenants in one database (SPEC §15), step one: every tenant-owned row names its tenant,
-- and each tenant has its own key-set version. The tenant that existed before is 'default'.
-- The master key, the client hashing keys, the operator and sessions stay deployment-wide.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- One version per tenant: each change to a tenant's keys bumps (and so locks) its row only.
CREATE TABLE keysets (
    tenant_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO keysets (tenant_id, version) SELECT 'default', version FROM keyset;
DROP TABLE keyset;

ALTER TABLE signing_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
DROP INDEX signing_keys_one_current;
DROP INDEX signing_keys_one_next;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id, state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id, state) WHERE state = 'next';
CREATE INDEX signing_keys_tenant_state ON signing_keys (tenant_id, state);

ALTER TABLE clients ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';

-- An event's `seq` is its tenant's key-set version, so it is unique per tenant.
CREATE TABLE audit_events_by_tenant (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kid TEXT,
    remote_addr TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
INSERT INTO audit_events_by_tenant (tenant_id, seq, at, actor, action, kid, remote_addr, detail)
    SELECT 'default', seq, at, actor, action, kid, remote_addr, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_by_tenant RENAME TO audit_events;
CREATE INDEX audit_events_action_at ON audit_events (tenant_id, action, at);
