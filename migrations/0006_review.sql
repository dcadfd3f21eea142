-- A report from a source under review is held until someone approves it:
-- while held_at is set it is in no page, feed, welcome mail or digest.
-- Approving clears it and keeps the report's publication time, so an
-- approved report enters the next digest like any report not yet announced.
-- Times are Unix milliseconds (UTC).
ALTER TABLE reports ADD COLUMN held_at INTEGER;

-- The listings and the digest's selection leave held reports out, so their
-- indexes do too, as they do retracted ones; the review queue has its own.
DROP INDEX reports_published;
CREATE INDEX reports_published ON reports (published_at DESC, id DESC)
    WHERE retracted_at IS NULL AND held_at IS NULL;
DROP INDEX reports_unannounced;
CREATE INDEX reports_unannounced ON reports (published_at)
    WHERE digest_id IS NULL AND backfilled = 0 AND retracted_at IS NULL AND held_at IS NULL;
CREATE INDEX reports_held ON reports (id) WHERE held_at IS NOT NULL AND retracted_at IS NULL;

-- What the last poll of each feed source did, keyed by the source's url.
-- last_error stays after later good polls, with its time, so that a source
-- that fails now and then can be seen doing so.
CREATE TABLE sources (
    url             TEXT    PRIMARY KEY,
    last_poll_at    INTEGER NOT NULL,
    last_outcome    TEXT    NOT NULL CHECK (last_outcome IN ('ok', 'error')),
    last_added      INTEGER NOT NULL,
    total_added     INTEGER NOT NULL,
    last_success_at INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_at   INTEGER
);
