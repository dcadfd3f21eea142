//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/store"
)

// writeCSV writes a subscriber import file of distinct addresses.
func writeCSV(w io.Writer, rows int) error {
	out := bufio.NewWriter(w)
	fmt.Fprintln(out, "email,confirmed_at")
	for i := range rows {
		fmt.Fprintf(out, "%s,2025-01-01T00:00:00Z\n", subscriberAddress(i))
	}
	return out.Flush()
}

// subscriberAddress is the address of the i-th bench subscriber, shared by
// the import file, the database fill and the checks at the sink.
func subscriberAddress(i int) string { return fmt.Sprintf("reader%07d@example.org", i) }

// fillDatabase creates the database at path with confirmed subscribers and
// ten new reports, so that the next digest goes to every subscriber.
func fillDatabase(ctx context.Context, path string, subscribers int) error {
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	start := time.Now()
	err = addSubscribersAndReports(ctx, st, subscribers, start)
	// Closing checkpoints the setup's writes, as a running service would
	// have long before its digest is due.
	if err = errors.Join(err, st.Close()); err != nil {
		return err
	}
	fmt.Printf("setup: %d confirmed subscribers in %s\n", subscribers, time.Since(start).Round(time.Millisecond))
	return nil
}

func addSubscribersAndReports(ctx context.Context, st *store.Store, subscribers int, now time.Time) error {
	const chunk = 10_000
	for done := 0; done < subscribers; done += chunk {
		var rows []store.Imported
		for i := done; i < min(done+chunk, subscribers); i++ {
			email := subscriberAddress(i)
			rows = append(rows, store.NewImported(email, email, "", nil, "", now))
		}
		err := st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertImported(rows, "bench", now)
			return err
		})
		if err != nil {
			return err
		}
	}
	return st.Write(ctx, func(tx *store.Tx) error {
		for i := range 10 {
			_, _, err := tx.AddReport(alertd.Report{
				GUID: fmt.Sprintf("bench-%d", i), URL: fmt.Sprintf("https://example.org/r/%d", i),
				Title: fmt.Sprintf("Report %d", i), PublishedAt: now.Add(-time.Hour), CreatedAt: now,
			}, false)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// benchCompile fills a fresh database with confirmed subscribers and a few
// new reports, then times one digest compile: the transaction that records
// the digest, its reports and one delivery per subscriber.
func benchCompile(path string, subscribers int) error {
	ctx := context.Background()
	if path == "" {
		dir, err := os.MkdirTemp("", "alertd-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "alertd.db")
	}
	if err := fillDatabase(ctx, path, subscribers); err != nil {
		return err
	}
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	defer st.Close()

	cat := catalogue.NewService(st, catalogue.Rules{FirstWindow: 7 * 24 * time.Hour}, time.Now, func() {})
	start := time.Now()
	d, created, err := cat.CompileDigest(ctx, "")
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	if !created || d.Recipients != subscribers {
		return fmt.Errorf("compiled %+v, want %d recipients", d, subscribers)
	}
	fmt.Printf("compile: digest %d, %d reports, %d deliveries recorded in %s\n",
		d.ID, d.Reports, d.Recipients, elapsed.Round(time.Millisecond))
	return nil
}
