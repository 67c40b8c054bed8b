-- Accounts that really close (issue 11).
-- session_epoch is copied into a session at login and compared on every
-- request: disable, enable, reset and a password change increment it, which
-- ends every session of the account at once (scs keeps sessions as opaque
-- blobs, so they cannot be found by user).
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
-- When a one-time password (must_change = 1) stops working, in Unix ms;
-- NULL for a password the user chose.
ALTER TABLE users ADD COLUMN password_expires_at INTEGER;

-- Who did it (the account, or "cli:NAME" / the email tried when there is no
-- account), from where, and with what outcome: ok, failed, refused,
-- throttled.
ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok';
CREATE INDEX audit_log_at ON audit_log(at);
