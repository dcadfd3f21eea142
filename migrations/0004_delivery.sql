-- Times are Unix milliseconds (UTC).

-- Who holds a claimed ('sending') message: the process whose sent log is
-- named after it (store.SentLog), or '' when it kept none. A process that
-- finds that owner's sent logs unlocked knows it is dead and hands its
-- claims back at once; the lease only guards against a live, stuck worker.
ALTER TABLE outbox ADD COLUMN claimant TEXT NOT NULL DEFAULT '';

-- The number of outbox messages in each status, moved in the transaction
-- of every write that moves a message, so that stats and metrics never
-- count the outbox.
CREATE TABLE outbox_counts (
    status TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO outbox_counts (status, n)
    SELECT value, 0 FROM json_each('["queued", "sending", "sent", "failed", "cancelled"]');
UPDATE outbox_counts SET n = c.n
    FROM (SELECT status, count(*) AS n FROM outbox GROUP BY status) AS c
    WHERE outbox_counts.status = c.status;

-- What a subscriber was sent before their finished messages were deleted
-- (delivery.keep_messages_for): per kind and outcome, how many and when the
-- first and the last finished.
CREATE TABLE message_history (
    subscriber_id INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    first_at      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, kind, status)
) WITHOUT ROWID;

-- The number of subscribers in each status, kept by triggers: subscribers
-- change one at a time (an import's rows aside), wherever in the code, and
-- stats and the dashboard must not count a million rows.
CREATE TABLE subscriber_counts (
    status TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO subscriber_counts (status, n)
    SELECT value, 0 FROM json_each('["pending", "confirmed", "unsubscribed", "bounced"]');
UPDATE subscriber_counts SET n = c.n
    FROM (SELECT status, count(*) AS n FROM subscribers GROUP BY status) AS c
    WHERE subscriber_counts.status = c.status;
CREATE TRIGGER subscriber_counts_insert AFTER INSERT ON subscribers BEGIN
    UPDATE subscriber_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER subscriber_counts_update AFTER UPDATE OF status ON subscribers WHEN old.status <> new.status BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = old.status;
    UPDATE subscriber_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER subscriber_counts_delete AFTER DELETE ON subscribers BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = old.status;
END;
