-- Times are Unix milliseconds (UTC); NULL means "never".

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- One row per lower-cased address. AUTOINCREMENT keeps ids from being reused
-- after an erase, so an old unsubscribe token can never name a new person.
CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL,
    email_key       TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced')),
    topics          TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    signup_at       INTEGER NOT NULL,
    signup_ip       TEXT    NOT NULL DEFAULT '',
    signup_ua       TEXT    NOT NULL DEFAULT '',
    form_url        TEXT    NOT NULL DEFAULT '',
    consent_version TEXT    NOT NULL DEFAULT '',
    confirmed_at    INTEGER,
    confirm_ip      TEXT    NOT NULL DEFAULT '',
    confirm_ua      TEXT    NOT NULL DEFAULT '',
    unsubscribed_at INTEGER,
    bounced_at      INTEGER,
    -- The live confirmation link: the SHA-256 of its secret part (the link
    -- itself is never stored) and when it expires. A new confirmation e-mail
    -- replaces it. Kept on the row, not in a table of its own keyed by the
    -- random hash, because a sign-up then writes one row, not two at random
    -- places in the file: that doubled the sign-ups per second.
    confirm_hash       TEXT    NOT NULL DEFAULT '',
    confirm_expires_at INTEGER,
    -- When the confirmation e-mails of the last 24 hours were queued (a JSON
    -- array of times): the history behind the cool-down and the daily cap.
    confirm_sends      TEXT    NOT NULL DEFAULT '[]'
);
-- Covers the digest's scan of confirmed subscribers and their topics.
CREATE INDEX subscribers_status ON subscribers (status, id, topics);

-- Erased addresses, kept only as a SHA-256 of the lower-cased address.
CREATE TABLE suppressions (
    email_hash TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every outgoing message is a row here before any SMTP traffic. A claimed row
-- is 'sending' with next_attempt_at as its lease expiry, so one index finds
-- both due and abandoned work. A digest writes a million rows here in one
-- statement, so the table carries no foreign keys and no index beyond the
-- one the workers need and one over the few non-digest rows (confirmation,
-- welcome) that purging stale sign-ups deletes. The rare lookups of one
-- subscriber's digest rows (export, erase) scan, and the recipient's status
-- is checked when each message is sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    subscriber_id   INTEGER NOT NULL,
    -- the digest a digest delivery belongs to (digests come in 0002)
    digest_id       INTEGER,
    payload         TEXT,
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
-- Fresh digest deliveries (never attempted) are left out: a digest hands
-- them to workers in id order from its claim_from (0002), so compiling a
-- digest does not have to index a million rows; they join this index at
-- their first claim, which is also what brings back an abandoned lease.
CREATE INDEX outbox_due ON outbox (next_attempt_at)
    WHERE status IN ('queued', 'sending') AND (digest_id IS NULL OR attempts > 0);
CREATE INDEX outbox_transactional ON outbox (subscriber_id) WHERE digest_id IS NULL;
