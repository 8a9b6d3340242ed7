-- The audit trail (SPEC §14) records more than key-set changes: client changes and sign-ins
-- too, which do not change the key set. An event's `seq` now comes from its tenant's own audit
-- counter, bumped in the event's transaction (so appends queue on the key set's row lock, and a
-- tenant's events stay numbered 1, 2, 3, … in commit order). Every event so far was numbered by
-- the key-set version, so the counter starts at the highest number used.
ALTER TABLE keysets ADD COLUMN audit_seq BIGINT NOT NULL DEFAULT 0;
UPDATE keysets SET audit_seq = COALESCE(
    (SELECT MAX(seq) FROM audit_events WHERE audit_events.tenant_id = keysets.tenant_id), 0);
-- The dashboard's trail, newest first across tenants, one page at a time.
CREATE INDEX audit_events_newest ON audit_events (at, tenant_id, seq);
