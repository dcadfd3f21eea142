-- An edit refuses a url another report already has; this index finds that
-- report without reading the catalogue.
CREATE INDEX reports_url ON reports (url);
