package seed_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/store/seed"
)

// TestDashboardCountsAgree builds a small dashboard fixture and checks that
// what a live database keeps as it goes (the subscriber and outbox counts,
// each digest's counters and outbox id range, its reports, the history of
// deleted messages, the per-day counts, the confirmed topic choices, the
// reports' search index) agrees with the rows.
func TestDashboardCountsAgree(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "alertd.db")
	scale := seed.Scale{Subscribers: 3_000, Reports: 2_000, AuditLog: 500, Now: time.Now()}
	if err := seed.Dashboard(ctx, path, scale); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Each query answers the rows that disagree, or the number that must be.
	for _, c := range []struct {
		what, query string
		want        int
	}{
		{"subscriber counts that differ from the rows", `SELECT count(*) FROM subscriber_counts AS k
			WHERE n <> (SELECT count(*) FROM subscribers WHERE status = k.status)`, 0},
		{"outbox counts that differ from the rows", `SELECT count(*) FROM outbox_counts AS k
			WHERE n <> (SELECT count(*) FROM outbox WHERE status = k.status)`, 0},
		{"digests whose counters do not add up", `SELECT count(*) FROM digests
			WHERE sent + failed + cancelled <> recipients OR claim_from <> claim_to + 1`, 0},
		{"digests whose ids overlap the next one's", `SELECT count(*) FROM digests AS d JOIN digests AS e ON e.id = d.id + 1
			WHERE e.claim_to - e.recipients <> d.claim_to`, 0},
		{"kept digests whose deliveries differ from their counters", `SELECT count(*) FROM digests AS d JOIN (
			SELECT digest_id, count(*) AS n, sum(status = 'sent') AS sent, sum(status = 'failed') AS failed,
				sum(status = 'cancelled') AS cancelled, min(id) AS first, max(id) AS last
			FROM outbox WHERE digest_id IS NOT NULL GROUP BY digest_id) AS o ON o.digest_id = d.id
			WHERE d.recipients <> o.n OR d.sent <> o.sent OR d.failed <> o.failed OR d.cancelled <> o.cancelled
				OR o.first <> d.claim_to - d.recipients + 1 OR o.last <> d.claim_to`, 0},
		{"digests in the outbox", `SELECT count(DISTINCT digest_id) FROM outbox`, 13},
		{"digests whose report count differs", `SELECT count(*) FROM digests AS d
			WHERE reports <> (SELECT count(*) FROM reports WHERE digest_id = d.id)`, 0},
		{"older digests missing from the history", `SELECT (SELECT sum(recipients) FROM digests
			WHERE id NOT IN (SELECT digest_id FROM outbox WHERE digest_id IS NOT NULL)) - (SELECT sum(n) FROM message_history)`, 0},
		{"deliveries to subscribers who were not confirmed then", `SELECT count(*) FROM outbox AS o
			JOIN digests AS d ON d.id = o.digest_id JOIN subscribers AS s ON s.id = o.subscriber_id
			WHERE s.confirmed_at IS NULL OR s.confirmed_at >= d.created_at
				OR coalesce(s.unsubscribed_at, s.bounced_at) <= d.created_at`, 0},
		{"days whose sign-ups, confirmations or unsubscribes differ from the rows", `SELECT count(*) FROM (
			SELECT day, sum(event = 0) AS signups, sum(event = 1) AS confirmations, sum(event = 2) AS unsubscribes FROM (
				SELECT signup_at / 86400000 AS day, 0 AS event FROM subscribers
				UNION ALL SELECT confirmed_at / 86400000, 1 FROM subscribers WHERE confirmed_at IS NOT NULL
				UNION ALL SELECT unsubscribed_at / 86400000, 2 FROM subscribers WHERE unsubscribed_at IS NOT NULL)
			GROUP BY day) AS r FULL JOIN subscriber_days AS k USING (day)
			WHERE r.signups IS NOT k.signups OR r.confirmations IS NOT k.confirmations OR r.unsubscribes IS NOT k.unsubscribes`, 0},
		{"days whose sent or failed messages differ from the outbox", `SELECT count(*) FROM (
			SELECT finished_at / 86400000 AS day, sum(status = 'sent') AS sent, sum(status = 'failed') AS failed
			FROM outbox WHERE status IN ('sent', 'failed') GROUP BY day) AS r FULL JOIN outbox_days AS k USING (day)
			WHERE r.sent IS NOT k.sent OR r.failed IS NOT k.failed`, 0},
		{"days with messages sent", `SELECT count(*) >= 13 FROM outbox_days WHERE sent > 0`, 1},
		{"topic choices whose confirmed count differs from the rows", `SELECT count(*) FROM (
			SELECT topics, count(*) AS n FROM subscribers WHERE status = 'confirmed' GROUP BY topics) AS r
			FULL JOIN confirmed_topic_choices AS k USING (topics)
			WHERE coalesce(r.n, 0) <> coalesce(k.n, 0)`, 0},
		{"reports the search does not find by their title", `SELECT count(*) FROM reports
			WHERE id NOT IN (SELECT rowid FROM reports_search WHERE reports_search MATCH '"Evidence from"')`, 0},
		{"reports the search finds by a word they lack", `SELECT count(*) FROM reports_search
			WHERE reports_search MATCH '"Wages"' AND rowid NOT IN (SELECT id FROM reports WHERE title LIKE '%wages%' OR keywords LIKE '%wages%')`, 0},
		{"subscriber statuses", `SELECT count(DISTINCT status) FROM subscribers`, 4},
		{"pending sign-ups older than the purge", `SELECT count(*) FROM subscribers
			WHERE status = 'pending' AND created_at < unixepoch() * 1000 - 30 * 86400000`, 0},
		{"dates out of order", `SELECT count(*) FROM subscribers WHERE confirmed_at < created_at
			OR coalesce(unsubscribed_at, bounced_at) <= confirmed_at OR coalesce(unsubscribed_at, bounced_at) > unixepoch() * 1000`, 0},
		{"held reports", `SELECT count(*) > 0 FROM reports WHERE held_at IS NOT NULL AND digest_id IS NULL`, 1},
		{"retracted reports", `SELECT count(*) > 0 FROM reports WHERE retracted_at IS NOT NULL`, 1},
		{"reports awaiting the next digest", `SELECT count(*) > 0 FROM reports
			WHERE digest_id IS NULL AND backfilled = 0 AND held_at IS NULL AND retracted_at IS NULL`, 1},
		{"failures without the relay's reply", `SELECT count(*) FROM outbox WHERE status = 'failed' AND last_error = ''`, 0},
		{"audit log entries", `SELECT count(*) FROM audit_log`, 500},
		{"sources", `SELECT count(*) FROM sources`, 4},
	} {
		var got int
		if err := db.QueryRowContext(ctx, c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	// FTS5 compares its index with every row of the reports it indexes.
	if _, err := db.ExecContext(ctx, `INSERT INTO reports_search (reports_search, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("the reports' search index differs from the reports: %v", err)
	}
}
