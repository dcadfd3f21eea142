package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// writeCSV writes a subscriber import file of distinct addresses.
func writeCSV(w io.Writer, rows int) error {
	out := bufio.NewWriter(w)
	fmt.Fprintln(out, "email,confirmed_at")
	for i := range rows {
		fmt.Fprintf(out, "reader%07d@example.org,2025-01-01T00:00:00Z\n", i)
	}
	return out.Flush()
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
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	defer func() { st.Close() }()
	now := time.Now()
	start := time.Now()
	const chunk = 10_000
	for done := 0; done < subscribers; done += chunk {
		var rows []store.Imported
		for i := done; i < min(done+chunk, subscribers); i++ {
			email := fmt.Sprintf("reader%07d@example.org", i)
			rows = append(rows, store.NewImported(email, email, "", nil, now))
		}
		err := st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertImported(rows, "bench", now)
			return err
		})
		if err != nil {
			return err
		}
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
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
	if err != nil {
		return err
	}
	fmt.Printf("setup: %d confirmed subscribers in %s\n", subscribers, time.Since(start).Round(time.Millisecond))
	// Reopen, as a running service would have checkpointed the setup's
	// writes long before its digest is due.
	if err := st.Close(); err != nil {
		return err
	}
	if st, err = store.Open(ctx, path, alertd.Migrations()); err != nil {
		return err
	}

	start = time.Now()
	d, created, err := st.CompileDigest(ctx, store.DigestRules{Now: now, FirstWindow: 7 * 24 * time.Hour})
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
