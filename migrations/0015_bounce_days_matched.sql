-- The daily bounce counts feed the overview's bounce and complaint rates,
-- which are set against the mailbox providers' limits. A report matched to
-- no subscriber (a forged or unknown reference, another sender's mail,
-- unreadable mail) counts against nobody, so it must not move the rates
-- either: anyone can mail the bounce address. Counted from now on only when
-- matched, and the unmatched ones taken out of the counts so far (they are
-- all still kept: an erase deletes only a subscriber's own).
DROP TRIGGER bounce_days_insert;
CREATE TRIGGER bounce_days_insert AFTER INSERT ON bounces WHEN new.subscriber_id <> 0 BEGIN
    INSERT INTO bounce_days (day, kind, n) VALUES (new.at / 86400000, new.kind, 1)
        ON CONFLICT (day, kind) DO UPDATE SET n = n + 1;
END;
UPDATE bounce_days SET n = bounce_days.n - unmatched.gone
    FROM (SELECT at / 86400000 AS day, kind, count(*) AS gone FROM bounces WHERE subscriber_id = 0 GROUP BY 1, 2) AS unmatched
    WHERE bounce_days.day = unmatched.day AND bounce_days.kind = unmatched.kind;
DELETE FROM bounce_days WHERE n = 0;
