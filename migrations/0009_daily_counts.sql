-- What happened on each day, for the dashboard's 90-day chart and its
-- 30-day delivery rates, kept as it happens so that neither counts a
-- million subscribers or ten million messages. A day is the UTC day of the
-- event: its Unix milliseconds divided by 86,400,000.
--
-- These count events, not rows: a sign-up erased, or purged unconfirmed,
-- still happened on its day, and a message deleted by retention was still
-- sent on its day. Nothing is ever subtracted.

-- Sign-ups, confirmations and unsubscribes per day, kept by triggers like
-- subscriber_counts (0004), wherever in the code a subscriber changes.
-- A sign-up is a new pending subscriber, or a row made pending again with
-- a new sign-up time (an unsubscribed or expired address signing up anew);
-- a repeated request of a pending address is no new sign-up. A change
-- that leaves its time unset counts on the day the database's clock says.
-- Imported
-- subscribers arrive confirmed and count as neither: they did not sign up
-- or confirm here, or not on the day of the import.
CREATE TABLE subscriber_days (
    day           INTEGER PRIMARY KEY,
    signups       INTEGER NOT NULL DEFAULT 0,
    confirmations INTEGER NOT NULL DEFAULT 0,
    unsubscribes  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The backfill can count only what the rows still say: sign-ups and
-- confirmations of the rows not imported, and the unsubscribes of those
-- that are unsubscribed now. Earlier sign-ups of a row signed up again,
-- and the rows erased or purged before this migration, are lost.
INSERT INTO subscriber_days (day, signups)
    SELECT signup_at / 86400000, count(*) FROM subscribers
    WHERE consent_version <> 'imported' GROUP BY 1;
INSERT INTO subscriber_days (day, confirmations)
    SELECT confirmed_at / 86400000, count(*) FROM subscribers
    WHERE confirmed_at IS NOT NULL AND consent_version <> 'imported' GROUP BY 1 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET confirmations = excluded.confirmations;
INSERT INTO subscriber_days (day, unsubscribes)
    SELECT unsubscribed_at / 86400000, count(*) FROM subscribers
    WHERE unsubscribed_at IS NOT NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET unsubscribes = excluded.unsubscribes;

CREATE TRIGGER subscriber_days_signup AFTER INSERT ON subscribers WHEN new.status = 'pending' BEGIN
    INSERT INTO subscriber_days (day, signups) VALUES (new.signup_at / 86400000, 1)
        ON CONFLICT (day) DO UPDATE SET signups = signups + 1;
END;
CREATE TRIGGER subscriber_days_signup_again AFTER UPDATE OF signup_at ON subscribers
    WHEN new.status = 'pending' AND new.signup_at <> old.signup_at BEGIN
    INSERT INTO subscriber_days (day, signups) VALUES (new.signup_at / 86400000, 1)
        ON CONFLICT (day) DO UPDATE SET signups = signups + 1;
END;
CREATE TRIGGER subscriber_days_confirmation AFTER UPDATE OF status ON subscribers
    WHEN old.status = 'pending' AND new.status = 'confirmed' BEGIN
    INSERT INTO subscriber_days (day, confirmations) VALUES (coalesce(new.confirmed_at, unixepoch() * 1000) / 86400000, 1)
        ON CONFLICT (day) DO UPDATE SET confirmations = confirmations + 1;
END;
CREATE TRIGGER subscriber_days_unsubscribe AFTER UPDATE OF status ON subscribers
    WHEN old.status <> 'unsubscribed' AND new.status = 'unsubscribed' BEGIN
    INSERT INTO subscriber_days (day, unsubscribes) VALUES (coalesce(new.unsubscribed_at, unixepoch() * 1000) / 86400000, 1)
        ON CONFLICT (day) DO UPDATE SET unsubscribes = unsubscribes + 1;
END;

-- Messages sent and failed per day of their final outcome, moved by the
-- store in the transaction that records the outcomes (as outbox_counts
-- is): a trigger would cost every one of a digest's million rows a write.
CREATE TABLE outbox_days (
    day    INTEGER PRIMARY KEY,
    sent   INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO outbox_days (day, sent, failed)
    SELECT finished_at / 86400000, count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'failed')
    FROM outbox WHERE status IN ('sent', 'failed') AND finished_at IS NOT NULL GROUP BY 1;
