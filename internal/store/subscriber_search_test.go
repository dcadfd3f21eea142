package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// TestSearchSubscribersStopsAtTheBudgetAndResumes walks searches whose
// filter no index serves with a budget smaller than the list: every page
// looks at no more than the budget, and the pages together list each match
// once, in order.
func TestSearchSubscribersStopsAtTheBudgetAndResumes(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var rows []Imported
	var rare []string
	for i := range 40 {
		email := fmt.Sprintf("r%02d@example.org", i)
		var topics []string
		if i%9 == 4 {
			topics = []string{"rare"}
			rare = append(rare, email)
		}
		rows = append(rows, NewImported(email, email, "hash-"+email, topics, "", now))
	}
	if err := st.Write(ctx, func(tx *Tx) error { _, err := tx.InsertImported(rows, "test", now); return err }); err != nil {
		t.Fatal(err)
	}
	newestFirst := slices.Clone(rare)
	slices.Reverse(newestFirst)

	for _, tt := range []struct {
		name string
		q    SubscriberSearch
		want []string
	}{
		{"all, by topic", SubscriberSearch{Topic: "rare"}, newestFirst},
		{"domain, by topic", SubscriberSearch{Domain: "@example.org", Topic: "rare"}, newestFirst},
		{"prefix, by topic", SubscriberSearch{Prefix: "r", Topic: "rare"}, rare},
		{"prefix, by status", SubscriberSearch{Prefix: "r1", Status: alertd.StatusConfirmed}, rowsFrom(rows, "r1")},
		{"nothing matches", SubscriberSearch{Prefix: "r", Status: alertd.StatusBounced}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Limit, q.Budget = 2, 7
			var got []string
			searched := false
			for pages := 0; ; pages++ {
				if pages > 40 {
					t.Fatal("the search does not end")
				}
				var page SubscriberPage
				err := st.Read(ctx, func(tx *Tx) error {
					var err error
					page, err = tx.SearchSubscribers(q)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Subscribers) > q.Limit || (page.Next != "" && len(page.Subscribers) < q.Limit && !page.Searched) {
					t.Fatalf("page %d: %d subscribers, next %q, searched %v", pages, len(page.Subscribers), page.Next, page.Searched)
				}
				searched = searched || page.Searched
				for _, sub := range page.Subscribers {
					got = append(got, sub.Email)
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			// Only the status within a prefix of ten confirmed addresses
			// fills its pages before the budget runs out.
			if wantSearched := tt.name != "prefix, by status"; searched != wantSearched {
				t.Errorf("a page stopped at the budget: %v, want %v", searched, wantSearched)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func rowsFrom(rows []Imported, prefix string) []string {
	var emails []string
	for _, r := range rows {
		if strings.HasPrefix(r.Email, prefix) {
			emails = append(emails, r.Email)
		}
	}
	return emails
}
