-- Scheduled rotation (SPEC §12): each tenant's rotation policy sits on its key-set row, so a
-- policy change bumps the version like any key change and every process follows it.
-- NULL means "never": no schedule until an operator sets one.
ALTER TABLE keysets ADD COLUMN rotate_every_seconds BIGINT;
ALTER TABLE keysets ADD COLUMN revoke_previous_after_seconds BIGINT;
