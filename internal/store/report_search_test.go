package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// TestSearchReportsStopsAtTheBudgetAndResumes walks searches for words the
// trigram index cannot serve with a budget smaller than the catalogue:
// every page that stops early stops exactly a budget of reports after the
// one before it, and the pages together list each match once, newest
// first.
func TestSearchReportsStopsAtTheBudgetAndResumes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var all []alertd.Report // newest first
	write(t, st, func(tx *store.Tx) error {
		for i := range 45 {
			title := fmt.Sprintf("Labour market %02d", i)
			if i%9 == 4 {
				title = fmt.Sprintf("Labour Qz %02d", i)
			}
			r := alertd.Report{
				GUID: fmt.Sprint(i), URL: fmt.Sprintf("https://example.org/%d", i), Title: title,
				// Pairs share a time: the id orders them.
				PublishedAt: day0.Add(time.Duration(i/2) * time.Hour), CreatedAt: day0,
			}
			if i%5 == 3 {
				r.HeldAt = &day0
			}
			rep, _, err := tx.AddReport(r, false)
			if err != nil {
				return err
			}
			all = slices.Insert(all, 0, rep)
		}
		return nil
	})
	for _, rep := range all {
		if rep.Title == "Labour Qz 22" || rep.Title == "Labour market 16" {
			if _, _, err := st.RetractReport(ctx, rep.ID, day0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The reports a status keeps, newest first, and those of them whose
	// title holds every term.
	scope := func(status alertd.ReportStatus) []int64 {
		var ids []int64
		for _, rep := range all {
			rep, err := st.ReportByID(ctx, rep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if status == "" || rep.Status() == status {
				ids = append(ids, rep.ID)
			}
		}
		return ids
	}
	titled := map[int64]string{}
	for _, rep := range all {
		titled[rep.ID] = rep.Title
	}
	qz := func(ids []int64) []int64 {
		return slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return titled[id][:9] != "Labour Qz" })
	}

	for _, tt := range []struct {
		name     string
		q        store.ReportSearch
		want     []int64
		searched bool
	}{
		{"a rare short word", store.ReportSearch{Terms: []string{"qZ"}}, qz(scope("")), true},
		{"with a status", store.ReportSearch{Terms: []string{"qz"}, Status: alertd.ReportPublished}, qz(scope(alertd.ReportPublished)), true},
		{"with a longer word", store.ReportSearch{Terms: []string{"labour", "Qz"}, Status: alertd.ReportHeld}, qz(scope(alertd.ReportHeld)), true},
		{"nothing matches", store.ReportSearch{Terms: []string{"xy"}}, nil, true},
		{"a common short word", store.ReportSearch{Terms: []string{"la"}, Status: alertd.ReportRetracted}, scope(alertd.ReportRetracted), false},
		{"a word the index finds", store.ReportSearch{Terms: []string{"labour qz"}}, qz(scope("")), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Limit, q.Budget = 2, 7
			order := scope(q.Status)
			var got []int64
			searched := false
			for pages := 0; ; pages++ {
				if pages > 45 {
					t.Fatal("the search does not end")
				}
				page, err := st.SearchReports(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Reports) > q.Limit || (page.Next != 0 && len(page.Reports) < q.Limit && !page.Searched) {
					t.Fatalf("page %d: %d reports, next %d, searched %v", pages, len(page.Reports), page.Next, page.Searched)
				}
				if page.Searched {
					searched = true
					// The page read the budget's reports after the one before.
					if from, at := slices.Index(order, q.Before), slices.Index(order, page.Next); at-from != q.Budget {
						t.Errorf("page %d stopped %d reports after the one before, want %d", pages, at-from, q.Budget)
					}
				}
				for _, rep := range page.Reports {
					got = append(got, rep.ID)
				}
				if page.Next == 0 {
					break
				}
				q.Before = page.Next
			}
			if searched != tt.searched {
				t.Errorf("a page stopped at the budget: %v, want %v", searched, tt.searched)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
