package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
	storeseed "github.com/alertd/alertd/internal/store/seed"
)

// BenchmarkStats measures what GET /api/v1/stats reads (subscribers by
// status, messages by status, the last digest) and the metrics' queue
// depth, against a database of 100,000 subscribers and 10,000,000 outbox
// rows: two years of weekly digests to all of them. The fixture is built
// with a few INSERT … SELECT statements over recursive CTEs (storeseed.Exec),
// once per run.
func BenchmarkStats(b *testing.B) {
	const (
		subscribers = 100_000
		digests     = 100
		messages    = subscribers * digests
	)
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "alertd.db")
	start := time.Now()
	at := day0.UnixMilli()
	err := storeseed.Exec(ctx, path, []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
		INSERT INTO subscribers (id, email, email_key, status, created_at, signup_at, confirmed_at)
		SELECT i, 's' || i || '@example.org', 's' || i || '@example.org',
			CASE WHEN i % 50 = 0 THEN 'unsubscribed' ELSE 'confirmed' END, ?2, ?2, ?2 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
		INSERT INTO digests (id, created_at, reports, recipients, sent, failed, cancelled, claim_from, claim_to)
		SELECT i, ?2 + i * 604800000, 3, ?1, ?1 - 30, 10, 20, i * ?1 + 1, i * ?1 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?4 - 1)
		INSERT INTO outbox (id, kind, subscriber_id, digest_id, status, attempts, next_attempt_at, created_at, finished_at)
		SELECT i + 1, 'digest', i % ?1 + 1, i / ?1 + 1,
			CASE WHEN i % ?1 < 10 THEN 'failed' WHEN i % ?1 < 30 THEN 'cancelled' ELSE 'sent' END,
			1, ?2 + (i / ?1) * 604800000, ?2 + (i / ?1) * 604800000, ?2 + (i / ?1) * 604800000 + 3600000 FROM n`,
		// The counts a live outbox keeps as it goes.
		`UPDATE outbox_counts SET n = c.n FROM (SELECT status, count(*) AS n FROM outbox GROUP BY status) AS c
		WHERE outbox_counts.status = c.status`,
	}, subscribers, at, digests, messages)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture of %d outbox rows built in %v", messages, time.Since(start).Round(time.Millisecond))

	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.Run("10M", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.CountSubscribers(ctx); err != nil {
				b.Fatal(err)
			}
			counts, err := st.MessageCounts(ctx)
			if err != nil || counts["sent"] != messages-30*digests {
				b.Fatalf("counts %v (%v)", counts, err)
			}
			if _, err := st.LastDigest(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := st.QueueDepth(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
