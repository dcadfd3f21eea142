-- Times are Unix milliseconds (UTC).

-- Every bounce and complaint heard after the relay took a message, kept as
-- evidence of what was decided about an address. The ids it was matched to
-- are 0 when it could not be matched (a forged or unknown reference, mail
-- that names nobody): such a row counts against nobody. key identifies the
-- report itself, so the same report heard twice (by mailbox and webhook,
-- or redelivered) is one row and counts once. AUTOINCREMENT keeps an id
-- erased from being given again, so a reader paging by id misses nothing.
CREATE TABLE bounces (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft', 'policy', 'complaint', 'unsubscribe', 'unrecognised')),
    source        TEXT    NOT NULL,
    message_id    INTEGER NOT NULL DEFAULT 0,
    subscriber_id INTEGER NOT NULL DEFAULT 0,
    digest_id     INTEGER NOT NULL DEFAULT 0,
    email         TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT '',
    diagnostic    TEXT    NOT NULL DEFAULT '',
    evidence      TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(evidence AS BLOB)) <= 65536),
    key           TEXT    NOT NULL UNIQUE
);
-- A subscriber's bounces, for their page and export, and the soft bounces
-- of one subscriber within the window, which decide when they are bounced.
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, kind, at) WHERE subscriber_id <> 0;

-- Bounces and complaints per UTC day (Unix milliseconds / 86,400,000) and
-- kind, moved with each kept bounce, so the dashboard's 30-day rates read
-- thirty rows at most per kind rather than the bounces.
CREATE TABLE bounce_days (
    day  INTEGER NOT NULL,
    kind TEXT    NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (day, kind)
) WITHOUT ROWID;
CREATE TRIGGER bounce_days_insert AFTER INSERT ON bounces BEGIN
    INSERT INTO bounce_days (day, kind, n) VALUES (new.at / 86400000, new.kind, 1)
        ON CONFLICT (day, kind) DO UPDATE SET n = n + 1;
END;
