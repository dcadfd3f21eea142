-- Frequencies: each is its own series of digests, and a subscriber reads
-- one. What existed before is the series 'weekly' (the one frequency of an
-- installation that configures none). Times are Unix milliseconds (UTC).
ALTER TABLE digests ADD COLUMN frequency TEXT NOT NULL DEFAULT 'weekly';
ALTER TABLE subscribers ADD COLUMN frequency TEXT NOT NULL DEFAULT 'weekly';

-- The scheduler remembers, and leases, each series' run on its own.
UPDATE settings SET key = 'digest.last_scheduled_run.weekly' WHERE key = 'digest.last_scheduled_run';

-- What each series has done with each report: announced it in digest_id,
-- or, with digest_id NULL, archived it at the series' first digest (it was
-- older than digest.first_window then). A report is announced at most once
-- per series.
CREATE TABLE series_reports (
    frequency TEXT    NOT NULL,
    report_id INTEGER NOT NULL,
    digest_id INTEGER,
    PRIMARY KEY (frequency, report_id)
) WITHOUT ROWID;
CREATE INDEX series_reports_digest ON series_reports (digest_id) WHERE digest_id IS NOT NULL;
INSERT INTO series_reports (frequency, report_id, digest_id)
    SELECT 'weekly', id, digest_id FROM reports WHERE digest_id IS NOT NULL;

-- From here on reports.digest_id (and backfilled, for a report no series
-- announced) is set once every configured series has announced or archived
-- the report: the digest that did so last. So the index of unannounced
-- reports (reports_unannounced) keeps holding only the few that some series
-- has still to announce, and with one frequency the column means what it
-- always did.

-- Covers a series' scan of its confirmed subscribers and their topics.
CREATE INDEX subscribers_frequency ON subscribers (status, frequency, id, topics);

-- The counts of confirmed subscribers per choice of topics, now per
-- frequency too (how many readers a series' next digest reaches), kept by
-- triggers as before.
DROP TRIGGER confirmed_topic_choices_insert;
DROP TRIGGER confirmed_topic_choices_leave;
DROP TRIGGER confirmed_topic_choices_join;
DROP TRIGGER confirmed_topic_choices_delete;
DROP TABLE confirmed_topic_choices;
CREATE TABLE confirmed_topic_choices (
    frequency TEXT    NOT NULL,
    topics    TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (frequency, topics)
) WITHOUT ROWID;
INSERT INTO confirmed_topic_choices (frequency, topics, n)
    SELECT frequency, topics, count(*) FROM subscribers WHERE status = 'confirmed' GROUP BY frequency, topics;
CREATE TRIGGER confirmed_topic_choices_insert AFTER INSERT ON subscribers
    WHEN new.status = 'confirmed' BEGIN
    INSERT INTO confirmed_topic_choices (frequency, topics, n) VALUES (new.frequency, new.topics, 1)
        ON CONFLICT (frequency, topics) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER confirmed_topic_choices_leave AFTER UPDATE OF status, topics, frequency ON subscribers
    WHEN old.status = 'confirmed' AND (new.status <> 'confirmed' OR new.topics <> old.topics OR new.frequency <> old.frequency) BEGIN
    UPDATE confirmed_topic_choices SET n = n - 1 WHERE frequency = old.frequency AND topics = old.topics;
END;
CREATE TRIGGER confirmed_topic_choices_join AFTER UPDATE OF status, topics, frequency ON subscribers
    WHEN new.status = 'confirmed' AND (old.status <> 'confirmed' OR new.topics <> old.topics OR new.frequency <> old.frequency) BEGIN
    INSERT INTO confirmed_topic_choices (frequency, topics, n) VALUES (new.frequency, new.topics, 1)
        ON CONFLICT (frequency, topics) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER confirmed_topic_choices_delete AFTER DELETE ON subscribers
    WHEN old.status = 'confirmed' BEGIN
    UPDATE confirmed_topic_choices SET n = n - 1 WHERE frequency = old.frequency AND topics = old.topics;
END;

-- A reader who changed frequency and had already been sent, by their old
-- series, reports their new series has still to announce: those are left
-- out of their copies of the new series' digests (and the row deleted
-- then). Such readers are few; what they were owed the other way (reports
-- the new series had announced and the old one not yet) is mailed to them
-- at the change.
CREATE TABLE switch_seen (
    subscriber_id INTEGER NOT NULL,
    report_id     INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, report_id)
) WITHOUT ROWID;
CREATE INDEX switch_seen_report ON switch_seen (report_id);
