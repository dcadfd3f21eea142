package store_test

import (
	"context"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
	storeseed "github.com/alertd/alertd/internal/store/seed"
)

// BenchmarkSubscriberMessages measures the subscriber page's message
// list on the dashboard's full-size fixture (a million subscribers, about
// eleven million outbox rows in 13 digests): a subscriber of two years who
// had every digest, a recent one, and one who had none.
// The fixture is storeseed.FullFixture's.
func BenchmarkSubscriberMessages(b *testing.B) {
	ctx := context.Background()
	path, err := storeseed.FullFixture(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		name       string
		subscriber int64
		least      int
	}{
		{"every-digest", 20, 13},
		{"recent", 995_020, 1},
		{"unsubscribed-long-ago", 100, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				messages, err := st.SubscriberMessages(ctx, c.subscriber)
				if err != nil || len(messages) < c.least {
					b.Fatalf("subscriber %d: %d messages (%v), want at least %d", c.subscriber, len(messages), err, c.least)
				}
			}
		})
	}
}
