-- The language a subscriber reads pages and mails in: a tag of
-- site.languages. Rows from before have none (''); at start-up alertd gives
-- them the first configured language, which the migration cannot know. The
-- partial index finds them without a scan, and is empty ever after.
ALTER TABLE subscribers ADD COLUMN lang TEXT NOT NULL DEFAULT '';
CREATE INDEX subscribers_without_lang ON subscribers (id) WHERE lang = '';
