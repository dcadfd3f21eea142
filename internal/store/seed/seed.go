// Package seed fills a database file with a large made-up history for the
// benchmarks: the schema through the store, then the rows straight into the
// file with a few INSERT … SELECT statements over recursive CTEs, which is
// minutes for ten million rows where the store's own writes would be hours.
package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Exec creates the database at path with alertd's schema, then runs the
// statements on it in order, each with args. The file is written without a
// journal: a fixture whose build fails is thrown away, not repaired.
func Exec(ctx context.Context, path string, statements []string, args ...any) error {
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)&_pragma=temp_store(FILE)")
	if err != nil {
		return err
	}
	// One connection, so that temporary tables outlive their statement.
	db.SetMaxOpenConns(1)
	for i, q := range statements {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return errors.Join(fmt.Errorf("seed statement %d: %w", i+1, err), db.Close())
		}
	}
	return db.Close()
}

// Scale is the size of a dashboard fixture.
type Scale struct {
	Subscribers int
	Reports     int
	AuditLog    int
	// Now is the end of the made-up history, which spans the two years
	// before it.
	Now time.Time
}

// Full is the size the dashboard is held to: a million subscribers, a
// hundred thousand reports, and two years of weekly digests, of which the
// last 90 days (the outbox's default retention) are about ten million
// outbox rows.
func Full(now time.Time) Scale {
	return Scale{Subscribers: 1_000_000, Reports: 100_000, AuditLog: 100_000, Now: now}
}

// The made-up history's calendar.
const (
	week    = int64(7 * 24 * time.Hour / time.Millisecond)
	day     = int64(24 * time.Hour / time.Millisecond)
	history = 104 // weeks, and so weekly digests
	// kept is how far back finished messages are still in the outbox:
	// delivery.keep_messages_for's default.
	kept = 90 * day
)

// FixtureEnv is the environment variable that names a full fixture built
// already (alertd-bench dashboard -db keeps one), for the benchmarks that
// read it.
const FixtureEnv = "ALERTD_BENCH_DB"

// FullFixture returns the file of a full-scale dashboard fixture: the one
// $ALERTD_BENCH_DB names, or else one built now in dir, which takes about a
// minute.
func FullFixture(ctx context.Context, dir string) (string, error) {
	if path := os.Getenv(FixtureEnv); path != "" {
		return path, nil
	}
	path := filepath.Join(dir, "alertd.db")
	return path, Dashboard(ctx, path, Full(time.Now()))
}

// Dashboard builds a database at path shaped like a service that has run
// for two years: subscribers in every status signed up over that time (some
// with topics), reports with varied titles, authors, series and keywords
// (some backfilled, a few held or retracted), a weekly digest whose
// deliveries of the last 90 days are in the outbox (sent, failed with the
// relay's reply, cancelled) and older ones in the message history, the
// confirmation mails of those 90 days, an audit log and the feed sources'
// status. What is kept beside the rows (subscriber_counts, outbox_counts,
// the digests' counters, the per-day counts, the confirmed topic choices,
// the reports' search index) agrees with them, as a live database's does.
func Dashboard(ctx context.Context, path string, s Scale) error {
	end := s.Now.UnixMilli()
	start := end - history*week - 3*day
	return Exec(ctx, path, dashboardSQL, s.Subscribers, s.Reports, s.AuditLog, start, end)
}

// Parameters of dashboardSQL: ?1 subscribers, ?2 reports, ?3 audit log
// entries, ?4 the start of the history, ?5 its end (Unix ms). Digest k
// (1..104) is compiled at ?4 + k weeks.
var dashboardSQL = []string{
	// Subscribers: ids in sign-up order over the two years. The newest
	// tenth of a percent is mostly pending (older pending sign-ups are
	// purged); of the rest, 12% unsubscribed and 3% bounced (at least three
	// days after signing up), the others confirmed within two days of
	// signing up.
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1),
	c AS (SELECT i, ?4 + (?5 - ?4) * i / (?1 + 1) + (i * 7919) % 3600000 AS created FROM n),
	s AS (SELECT i, created,
		CASE WHEN i > ?1 - ?1 / 1000 AND i % 3 <> 0 THEN 'pending'
			WHEN created > ?5 - 4 * 86400000 THEN 'confirmed'
			WHEN i % 100 < 12 THEN 'unsubscribed' WHEN i % 100 < 15 THEN 'bounced' ELSE 'confirmed' END AS status,
		json_extract('["anna","ben","chloe","david","elena","farid","grace","hiro","ines","jonas","kemal","lena","mateo","nora","omar","paula","quentin","rosa","sven","tara","umar","vera","wei","xavier","yara","zoe"]', '$[' || (i % 26) || ']') AS first,
		json_extract('["smith","garcia","muller","rossi","nowak","kowalski","dubois","jensen","silva","tanaka","kim","novak","horvat","popescu","ivanov","murphy","obrien","van-dijk","lindqvist","costa","papadopoulos","schmidt","martin","bernard","keller","weber","fischer","meyer","wagner","becker","hoffmann","schulz"]', '$[' || (i / 26 % 32) || ']') AS last,
		json_extract('["example.org","example.com","example.net","mail.example","uni.example.edu","gov.example","research.example.org"]', '$[' || (i % 7) || ']') AS domain
		FROM c)
	INSERT INTO subscribers (id, email, email_key, status, topics, created_at, signup_at, signup_ip, signup_ua, form_url,
		consent_version, confirmed_at, confirm_ip, confirm_ua, unsubscribed_at, bounced_at, confirm_hash, confirm_expires_at, confirm_sends, lang)
	SELECT i,
		CASE WHEN i % 50 = 0 THEN upper(substr(first, 1, 1)) || substr(first, 2) ELSE first END || '.' || last || i || '@' || domain,
		first || '.' || last || i || '@' || domain,
		status,
		CASE i % 5 WHEN 0 THEN '["economy"]' WHEN 1 THEN '["economy","climate"]' WHEN 2 THEN '["health"]' ELSE '[]' END,
		created, created,
		CASE WHEN i % 4 = 0 THEN '2001:db8::' || printf('%x', i % 65536) ELSE '198.51.100.' || (i % 254 + 1) END,
		'Mozilla/5.0 (X11; Linux x86_64; rv:' || (100 + i % 30) || '.0) Gecko/20100101 Firefox/' || (100 + i % 30) || '.0',
		'https://example.org/alerts', 'form-3f2a9c0d1e4b',
		CASE WHEN status <> 'pending' THEN created + 60000 + (i * 104729) % 172800000 END,
		CASE WHEN status <> 'pending' THEN '203.0.113.' || (i % 254 + 1) ELSE '' END,
		CASE WHEN status <> 'pending' THEN 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)' ELSE '' END,
		CASE WHEN status = 'unsubscribed' THEN created + 259200000 + (i * 15485863) % (?5 - created - 259200000) END,
		CASE WHEN status = 'bounced' THEN created + 259200000 + (i * 15485863) % (?5 - created - 259200000) END,
		CASE WHEN status = 'pending' THEN printf('%064x', i * 2654435761) ELSE '' END,
		CASE WHEN status = 'pending' THEN created + 172800000 END,
		CASE WHEN status = 'pending' THEN json_array(created) ELSE '[]' END,
		'en'
	FROM s`,
	// The days' sign-ups, confirmations and unsubscribes, as the triggers
	// would have counted them had each subscriber signed up, confirmed and
	// left one step at a time: the rows went in with their last status, so
	// the insert's trigger counted the pending sign-ups only. (The topic
	// choices' trigger counted the confirmed rows as a live database does.)
	`DELETE FROM subscriber_days`,
	`INSERT INTO subscriber_days (day, signups, confirmations, unsubscribes)
	SELECT day, sum(event = 0), sum(event = 1), sum(event = 2) FROM (
		SELECT signup_at / 86400000 AS day, 0 AS event FROM subscribers
		UNION ALL SELECT confirmed_at / 86400000, 1 FROM subscribers WHERE confirmed_at IS NOT NULL
		UNION ALL SELECT unsubscribed_at / 86400000, 2 FROM subscribers WHERE unsubscribed_at IS NOT NULL)
	GROUP BY day`,

	// The digests each subscriber received: from the first one compiled
	// after confirming to the last one before leaving.
	`CREATE TEMP TABLE span AS SELECT * FROM (
		SELECT id, (confirmed_at - ?4) / 604800000 + 1 AS a,
			CASE WHEN coalesce(unsubscribed_at, bounced_at) IS NULL THEN 104
				ELSE min(104, (coalesce(unsubscribed_at, bounced_at) - ?4 - 1) / 604800000) END AS b
		FROM subscribers WHERE confirmed_at IS NOT NULL)
	WHERE a <= b`,

	// The digests, their recipients counted from the spans, and the
	// outbox ids each one was given (one INSERT gives a digest's
	// deliveries consecutive ids), all handed out since.
	`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 104),
	delta(i, n) AS (SELECT a, 1 FROM span UNION ALL SELECT b + 1, -1 FROM span),
	per(i, n) AS (SELECT i, sum(n) FROM delta GROUP BY i),
	r(i, n) AS (SELECT k.i, (SELECT coalesce(sum(n), 0) FROM per WHERE per.i <= k.i) FROM k)
	INSERT INTO digests (id, created_at, reports, recipients, claim_to, claim_from)
	SELECT i, ?4 + i * 604800000, 0, n, sum(n) OVER w, sum(n) OVER w + 1 FROM r
	WINDOW w AS (ORDER BY i ROWS UNBOUNDED PRECEDING)`,

	// The deliveries of the digests of the last 90 days, in digest and
	// subscriber order from the first such digest's ids: 1.5% failed
	// with the relay's reply, 1% cancelled (the reader left before the
	// send), the rest sent within the hour.
	`INSERT INTO outbox (id, kind, subscriber_id, status, next_attempt_at, created_at)
	SELECT claim_from - recipients - 1, 'digest', 0, 'cancelled', 0, 0 FROM digests
	WHERE created_at > ?5 - 7776000000 ORDER BY id LIMIT 1`,
	`INSERT INTO outbox (kind, subscriber_id, digest_id, status, attempts, next_attempt_at, last_error, created_at, finished_at)
	SELECT 'digest', span.id, d.id,
		CASE WHEN (span.id * 31 + d.id) % 1000 < 15 THEN 'failed' WHEN (span.id * 31 + d.id) % 1000 < 25 THEN 'cancelled' ELSE 'sent' END,
		CASE WHEN (span.id * 31 + d.id) % 1000 < 15 THEN 6 ELSE 1 END,
		d.created_at + 60000,
		CASE WHEN (span.id * 31 + d.id) % 1000 < 5 THEN '550 5.1.1 <' || span.id || '@example.org>: Recipient address rejected: User unknown in virtual mailbox table'
			WHEN (span.id * 31 + d.id) % 1000 < 10 THEN '552 5.2.2 The email account that you tried to reach is over quota'
			WHEN (span.id * 31 + d.id) % 1000 < 15 THEN '421 4.7.0 Try again later, closing connection (gave up after 6 attempts)'
			ELSE '' END,
		d.created_at, d.created_at + (span.id * 7) % 3600000
	FROM digests AS d CROSS JOIN span
	WHERE d.created_at > ?5 - 7776000000 AND d.id BETWEEN span.a AND span.b
	ORDER BY d.id, span.id`,
	`DELETE FROM outbox WHERE subscriber_id = 0`,
	// Each digest's counters, from its own id range of the outbox; those
	// older than 90 days went out whole.
	`UPDATE digests SET
		sent = (SELECT count(*) FROM outbox WHERE id BETWEEN digests.claim_to - digests.recipients + 1 AND digests.claim_to AND status = 'sent'),
		failed = (SELECT count(*) FROM outbox WHERE id BETWEEN digests.claim_to - digests.recipients + 1 AND digests.claim_to AND status = 'failed'),
		cancelled = (SELECT count(*) FROM outbox WHERE id BETWEEN digests.claim_to - digests.recipients + 1 AND digests.claim_to AND status = 'cancelled')
	WHERE created_at > ?5 - 7776000000`,
	`UPDATE digests SET sent = recipients WHERE created_at <= ?5 - 7776000000`,
	// What retention folded into the history before deleting: the older
	// digests each subscriber was sent.
	`INSERT INTO message_history (subscriber_id, kind, status, n, first_at, last_at)
	SELECT span.id, 'digest', 'sent', min(span.b, old.k) - span.a + 1,
		?4 + span.a * 604800000 + 3600000, ?4 + min(span.b, old.k) * 604800000 + 3600000
	FROM span, (SELECT max(id) AS k FROM digests WHERE created_at <= ?5 - 7776000000) AS old
	WHERE span.a <= old.k`,
	// The confirmation mails of the last 90 days' sign-ups.
	`INSERT INTO outbox (kind, subscriber_id, status, attempts, next_attempt_at, created_at, finished_at)
	SELECT 'confirmation', id, 'sent', 1, created_at, created_at, created_at + 2000
	FROM subscribers WHERE created_at > ?5 - 7776000000 ORDER BY id`,
	`UPDATE outbox_counts SET n = CASE status
		WHEN 'sent' THEN c.sent WHEN 'failed' THEN c.failed WHEN 'cancelled' THEN c.cancelled ELSE 0 END
	FROM (SELECT sum(status = 'sent') AS sent, sum(status = 'failed') AS failed, sum(status = 'cancelled') AS cancelled FROM outbox) AS c`,
	// The days' sent and failed messages, as the store counts them when it
	// records each outcome. Only the kept messages' days are filled: the
	// 90-day chart and the 30-day rates read no further back.
	`INSERT INTO outbox_days (day, sent, failed)
	SELECT finished_at / 86400000, sum(status = 'sent'), sum(status = 'failed') FROM outbox
	WHERE status IN ('sent', 'failed') GROUP BY 1`,

	// Reports: the oldest tenth an archive imported before the history
	// began (backfilled), the rest published over the two years and each
	// announced by the next digest, but for the newest few; a few held
	// for review, one in two thousand retracted.
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2),
	r AS (SELECT i, i <= ?2 / 10 AS backfilled,
		CASE WHEN i <= ?2 / 10 THEN ?4 - (?2 / 10 - i + 1) * 2592000000 / 30
			ELSE ?4 + (?5 - ?4) * (i - ?2 / 10) / (?2 - ?2 / 10 + 1) END AS published
		FROM n)
	INSERT INTO reports (id, guid, url, title, published_at, series, number, authors, abstract, keywords, topics,
		created_at, backfilled, digest_id, retracted_at, held_at)
	SELECT i, 'seed:' || i, 'https://research.example.org/publications/' || i,
		json_extract('["Regional","Global","Monetary","Fiscal","Urban","Rural","Digital","Sustainable","Informal","Labour","Household","Corporate","Public","Cross-border","Long-run"]', '$[' || (i % 15) || ']')
		|| ' ' || json_extract('["Inflation","Trade","Housing","Productivity","Employment","Energy Prices","Migration","Credit","Inequality","Education","Health Spending","Pensions","Taxation","Innovation","Water Use","Supply Chains","Wages"]', '$[' || (i / 15 % 17) || ']')
		|| ' ' || json_extract('["in Europe","in Emerging Markets","after the Pandemic","and Climate Risk","under Uncertainty","in Small Firms","across Cities","over the Business Cycle","and Public Debt","in the Labour Market","since 2000"]', '$[' || (i / 255 % 11) || ']')
		|| ': Evidence from ' || json_extract('["Germany","Brazil","India","Kenya","Poland","Japan","Mexico","Spain","Indonesia","Canada","Chile","Nigeria","Vietnam"]', '$[' || (i % 13) || ']'),
		published,
		json_extract('["Working Paper","Policy Brief","Discussion Paper","Occasional Paper","Staff Report",""]', '$[' || (i % 6) || ']'),
		CASE WHEN i % 6 = 5 THEN '' ELSE strftime('%Y', published / 1000, 'unixepoch') || '/' || (i % 997 + 1) END,
		CASE i % 3
			WHEN 0 THEN json_array(json_extract('["Smith, J.","García, M.","Müller, K.","Rossi, L.","Nowak, A.","Dubois, C.","Tanaka, H.","Silva, P.","Okafor, N.","Lindqvist, E.","Chen, Y.","Haddad, R."]', '$[' || (i % 12) || ']'))
			WHEN 1 THEN json_array(json_extract('["Smith, J.","García, M.","Müller, K.","Rossi, L.","Nowak, A.","Dubois, C.","Tanaka, H.","Silva, P.","Okafor, N.","Lindqvist, E.","Chen, Y.","Haddad, R."]', '$[' || (i % 12) || ']'),
				json_extract('["Kim, S.","Novak, T.","Horvat, I.","Popescu, D.","Ivanov, O.","Murphy, F.","Costa, B.","Weber, U."]', '$[' || (i / 12 % 8) || ']'))
			ELSE json_array(json_extract('["Kim, S.","Novak, T.","Horvat, I.","Popescu, D.","Ivanov, O.","Murphy, F.","Costa, B.","Weber, U."]', '$[' || (i % 8) || ']'),
				json_extract('["Smith, J.","García, M.","Müller, K.","Rossi, L.","Nowak, A.","Dubois, C.","Tanaka, H.","Silva, P.","Okafor, N.","Lindqvist, E.","Chen, Y.","Haddad, R."]', '$[' || (i / 8 % 12) || ']'),
				'Research Department')
		END,
		'We study ' || lower(json_extract('["Inflation","Trade","Housing","Productivity","Employment","Energy Prices","Migration","Credit","Inequality","Education","Health Spending","Pensions","Taxation","Innovation","Water Use","Supply Chains","Wages"]', '$[' || (i / 15 % 17) || ']'))
			|| ' with new data and find effects that differ by region, size and period. Report ' || i || '.',
		json_array(json_extract('["inflation","trade","housing","productivity","employment","energy","migration","credit","inequality","education","health","pensions","taxation","innovation","water","supply chains","wages"]', '$[' || (i / 15 % 17) || ']'),
			json_extract('["panel data","survey","machine learning","natural experiment","forecasting","micro data","general equilibrium"]', '$[' || (i % 7) || ']')),
		CASE i % 4 WHEN 0 THEN '["economy"]' WHEN 1 THEN '["climate"]' WHEN 2 THEN '["health","economy"]' ELSE '[]' END,
		CASE WHEN backfilled THEN ?4 ELSE published + 600000 END,
		backfilled,
		CASE WHEN NOT backfilled AND (published - ?4) / 604800000 + 1 <= 104 AND i <= ?2 - 25 THEN (published - ?4) / 604800000 + 1 END,
		CASE WHEN i % 2000 = 0 THEN published + 259200000 END,
		CASE WHEN i > ?2 - 25 AND i % 2 = 0 THEN published END
	FROM r`,
	`UPDATE digests SET reports = c.n FROM (SELECT digest_id, count(*) AS n FROM reports WHERE digest_id IS NOT NULL GROUP BY digest_id) AS c
	WHERE digests.id = c.digest_id`,
	// The digests are the one series, weekly, that announced those reports.
	`INSERT INTO series_reports (frequency, report_id, digest_id) SELECT 'weekly', id, digest_id FROM reports WHERE digest_id IS NOT NULL`,

	// The audit log: a few operators' changes over the two years.
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
	INSERT INTO audit_log (id, at, who, action, subject, detail)
	SELECT i, ?4 + (?5 - ?4) * i / (?3 + 1),
		json_extract('["ops@example.org","editor@example.org","press@example.org","cli"]', '$[' || (i % 4) || ']'),
		json_extract('["signed in","signed out","report added","report edited","report retracted","report approved","subscriber erased","subscriber unsubscribed","digest sent","link printed by the CLI"]', '$[' || (i % 10) || ']'),
		CASE i % 10 WHEN 2 THEN 'report ' || (i % ?2 + 1) WHEN 3 THEN 'report ' || (i % ?2 + 1) WHEN 4 THEN 'report ' || (i % ?2 + 1)
			WHEN 5 THEN 'report ' || (i % ?2 + 1) WHEN 6 THEN 'subscriber ' || (i % ?1 + 1) WHEN 7 THEN 'subscriber ' || (i % ?1 + 1)
			WHEN 8 THEN 'digest ' || (i % 104 + 1) ELSE '' END,
		CASE i % 10 WHEN 3 THEN 'title, authors' WHEN 8 THEN 'sent now' ELSE '' END
	FROM n`,

	// The feed sources' last polls.
	`INSERT INTO sources (url, last_poll_at, last_outcome, last_added, total_added, last_success_at, last_error, last_error_at)
	VALUES
		('https://research.example.org/feed.atom', ?5 - 1800000, 'ok', 3, 8200, ?5 - 1800000, '', NULL),
		('https://papers.example.net/rss.xml', ?5 - 2400000, 'ok', 0, 1450, ?5 - 2400000, 'fetch: 503 Service Unavailable', ?5 - 86400000 * 3),
		('https://stats.example.com/releases.json', ?5 - 600000, 'error', 0, 310, ?5 - 86400000, 'decode: unexpected end of JSON input', ?5 - 600000),
		('https://review.example.org/feed.atom', ?5 - 3000000, 'ok', 1, 40, ?5 - 3000000, '', NULL)`,
}
