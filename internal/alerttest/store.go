package alerttest

import (
	"context"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// OpenStore opens the database at path, migrated, and closes it when the
// test ends.
func OpenStore(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
