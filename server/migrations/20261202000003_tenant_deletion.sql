-- Deleting a tenant (SPEC §15): its keys and clients go, its row stays (marked deleted_at) so
-- that its audit events keep naming a tenant, and its domain is free for a new tenant.
CREATE TABLE tenants_v2 (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
INSERT INTO tenants_v2 (id, domain, created_at) SELECT id, domain, created_at FROM tenants;
DROP TABLE tenants;
ALTER TABLE tenants_v2 RENAME TO tenants;
-- One live tenant per domain.
CREATE UNIQUE INDEX tenants_live_domain ON tenants (domain) WHERE deleted_at IS NULL;
