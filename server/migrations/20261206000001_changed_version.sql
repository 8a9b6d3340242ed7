-- Each key's row names the key-set version that last changed it, so a server serving version V
-- reads back only the keys changed since V after a change (issue 19: a rotation reads the few
-- rows it touched, not a thousand previous keys). Rows from before this column are read by the
-- full load every server makes when it starts.
ALTER TABLE signing_keys ADD COLUMN changed_version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX signing_keys_changed ON signing_keys (tenant_id, changed_version);
-- A change checks that no key is sealed under another master key: an index lookup, not a scan
-- of every key's row.
CREATE INDEX signing_keys_master_key ON signing_keys (master_key_id);
