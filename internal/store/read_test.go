package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// TestConcurrentReadsOfNewStatementsFinish runs many more reads at once
// than there are reader connections, each with statements no read has
// prepared yet. A read keeps the statements it prepared for the pool once
// it is over; keeping one must not hold up a read that is still looking up
// its own, or every reader ends up waiting for another.
func TestConcurrentReadsOfNewStatementsFinish(t *testing.T) {
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for round := range 20 {
			for i := range 64 {
				wg.Go(func() {
					err := st.Read(ctx, func(tx *Tx) error {
						var n int
						// Two statements a read, new to the pool each round.
						for k := range 2 {
							query := fmt.Sprintf("SELECT count(*) + %d FROM subscribers WHERE id > %d", k, round)
							if err := tx.queryRow(query).Scan(&n); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						t.Errorf("read %d of round %d: %v", i, round, err)
					}
				})
			}
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the reads did not finish within a minute: readers wait for each other")
	}
}
