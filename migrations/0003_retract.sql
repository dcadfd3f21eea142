-- A retracted report leaves the pages, the feeds and every digest not yet
-- compiled; the digests that announced it keep it as history. Its row, and
-- so its guid, stays: the feed it came from cannot bring it back, and
-- clearing retracted_at restores it. Times are Unix milliseconds (UTC).
ALTER TABLE reports ADD COLUMN retracted_at INTEGER;

-- The listings and the digest's selection leave retracted reports out, so
-- their indexes do too: the selection's count stays an index-only scan.
DROP INDEX reports_published;
CREATE INDEX reports_published ON reports (published_at DESC, id DESC) WHERE retracted_at IS NULL;
DROP INDEX reports_unannounced;
CREATE INDEX reports_unannounced ON reports (published_at)
    WHERE digest_id IS NULL AND backfilled = 0 AND retracted_at IS NULL;
