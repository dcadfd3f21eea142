-- What the dashboard's digest pages read, without counting a million rows.
-- Times are Unix milliseconds (UTC).

-- A digest's failed deliveries, in id order, for its page: failures are few
-- beside the deliveries, so the index stays small and a compile's million
-- fresh rows do not enter it.
CREATE INDEX outbox_failed ON outbox (digest_id, id) WHERE status = 'failed';

-- The number of confirmed subscribers per choice of topics (the topics
-- column as stored, '[]' for none), kept by triggers as subscriber_counts
-- is. Choices are few, so how many readers the next digest reaches, in all
-- and per topic, is summed over these rows with the rule that decides who
-- gets a copy.
CREATE TABLE confirmed_topic_choices (
    topics TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO confirmed_topic_choices (topics, n)
    SELECT topics, count(*) FROM subscribers WHERE status = 'confirmed' GROUP BY topics;
CREATE TRIGGER confirmed_topic_choices_insert AFTER INSERT ON subscribers
    WHEN new.status = 'confirmed' BEGIN
    INSERT INTO confirmed_topic_choices (topics, n) VALUES (new.topics, 1)
        ON CONFLICT (topics) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER confirmed_topic_choices_leave AFTER UPDATE OF status, topics ON subscribers
    WHEN old.status = 'confirmed' AND (new.status <> 'confirmed' OR new.topics <> old.topics) BEGIN
    UPDATE confirmed_topic_choices SET n = n - 1 WHERE topics = old.topics;
END;
CREATE TRIGGER confirmed_topic_choices_join AFTER UPDATE OF status, topics ON subscribers
    WHEN new.status = 'confirmed' AND (old.status <> 'confirmed' OR new.topics <> old.topics) BEGIN
    INSERT INTO confirmed_topic_choices (topics, n) VALUES (new.topics, 1)
        ON CONFLICT (topics) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER confirmed_topic_choices_delete AFTER DELETE ON subscribers
    WHEN old.status = 'confirmed' BEGIN
    UPDATE confirmed_topic_choices SET n = n - 1 WHERE topics = old.topics;
END;
