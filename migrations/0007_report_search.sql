-- The dashboard lists reports whatever their status, newest first, and
-- searches them. Each status it filters by has an index in the listings'
-- order, so that a page is an index range however large the catalogue.
CREATE INDEX reports_all ON reports (published_at DESC, id DESC);
CREATE INDEX reports_retracted ON reports (published_at DESC, id DESC) WHERE retracted_at IS NOT NULL;
CREATE INDEX reports_held_published ON reports (published_at DESC, id DESC)
    WHERE held_at IS NOT NULL AND retracted_at IS NULL;

-- The searched text (title, series, number, authors, keywords) indexed by
-- trigrams, so that any part of a word is found without reading every
-- report: a search for a rare name answers from the index, where a LIKE
-- scan of a hundred thousand reports takes longer than a page may. The
-- table holds no copy of the text (content='reports'); the triggers keep
-- it in step with every insert, update and delete, wherever in the code.
CREATE VIRTUAL TABLE reports_search USING fts5 (
    title, series, number, authors, keywords,
    content = 'reports', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO reports_search (reports_search) VALUES ('rebuild');
CREATE TRIGGER reports_search_insert AFTER INSERT ON reports BEGIN
    INSERT INTO reports_search (rowid, title, series, number, authors, keywords)
        VALUES (new.id, new.title, new.series, new.number, new.authors, new.keywords);
END;
CREATE TRIGGER reports_search_update AFTER UPDATE OF title, series, number, authors, keywords ON reports BEGIN
    INSERT INTO reports_search (reports_search, rowid, title, series, number, authors, keywords)
        VALUES ('delete', old.id, old.title, old.series, old.number, old.authors, old.keywords);
    INSERT INTO reports_search (rowid, title, series, number, authors, keywords)
        VALUES (new.id, new.title, new.series, new.number, new.authors, new.keywords);
END;
CREATE TRIGGER reports_search_delete AFTER DELETE ON reports BEGIN
    INSERT INTO reports_search (reports_search, rowid, title, series, number, authors, keywords)
        VALUES ('delete', old.id, old.title, old.series, old.number, old.authors, old.keywords);
END;
