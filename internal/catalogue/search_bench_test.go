package catalogue_test

import (
	"context"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/store"
	storeseed "github.com/alertd/alertd/internal/store/seed"
)

// BenchmarkSearch measures a page of the dashboard's report search on its
// full-size fixture (a hundred thousand reports): words too short for the
// trigram index, one found nowhere, which reads a budget of reports, and
// one found everywhere; a rare word the index finds; and a word in
// thousands of reports, read newest first. The fixture is
// storeseed.FullFixture's.
func BenchmarkSearch(b *testing.B) {
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
	cat := catalogue.NewService(st, catalogue.Rules{}, time.Now, func() {})
	for _, text := range []string{"qz", "in", "Kenya", "Wages"} {
		b.Run(text, func(b *testing.B) {
			for b.Loop() {
				if _, err := cat.Search(ctx, catalogue.Search{Text: text, Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
