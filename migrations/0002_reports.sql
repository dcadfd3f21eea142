-- The catalogue and its digests. Times are Unix milliseconds (UTC).

-- The delivery counts move with each delivery's final outcome, in the same
-- transaction, so they are always true without counting a million rows.
CREATE TABLE digests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    reports    INTEGER NOT NULL,
    recipients INTEGER NOT NULL,
    sent       INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    cancelled  INTEGER NOT NULL DEFAULT 0,
    -- The digest's deliveries are the outbox ids claim_from..claim_to
    -- (one INSERT gives them consecutive ids); claim_from is the first one
    -- never handed to a worker.
    claim_from INTEGER NOT NULL DEFAULT 1,
    claim_to   INTEGER NOT NULL DEFAULT 0
);

-- digest_id is set when a digest announces the report; backfilled reports
-- (imported archives) are never announced.
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guid         TEXT    NOT NULL UNIQUE,
    url          TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    published_at INTEGER NOT NULL,
    series       TEXT    NOT NULL DEFAULT '',
    number       TEXT    NOT NULL DEFAULT '',
    authors      TEXT    NOT NULL DEFAULT '[]',
    abstract     TEXT    NOT NULL DEFAULT '',
    keywords     TEXT    NOT NULL DEFAULT '[]',
    topics       TEXT    NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    backfilled   INTEGER NOT NULL DEFAULT 0,
    digest_id    INTEGER REFERENCES digests (id)
);
CREATE INDEX reports_published ON reports (published_at DESC, id DESC);
CREATE INDEX reports_unannounced ON reports (published_at) WHERE digest_id IS NULL AND backfilled = 0;
CREATE INDEX reports_digest ON reports (digest_id) WHERE digest_id IS NOT NULL;


-- A lease names the one process allowed to do a piece of work until it
-- expires: two alertd processes on one database never compile together.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
