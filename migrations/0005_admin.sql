-- Dashboard sign-in. Times are Unix milliseconds (UTC).

-- One-time sign-in links: only the SHA-256 of the link's secret is kept,
-- so a copy of the database signs nobody in. A link is spent once used_at
-- is set. Links are kept a day after they are made, for the per-address
-- limit on how many are mailed.
CREATE TABLE admin_links (
    hash       TEXT    PRIMARY KEY,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX admin_links_email ON admin_links (email, created_at);

-- Dashboard sessions, by the SHA-256 of the cookie's value.
CREATE TABLE admin_sessions (
    hash       TEXT    PRIMARY KEY,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every change made through the dashboard (and the sign-ins themselves):
-- who, what, to what, when. Newest first is read by id.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    who     TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT ''
);
