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

// benchFrequencies are the ids of n frequencies: the one weekly for 1, else
// f1..fn.
func benchFrequencies(n int) []alertd.Frequency {
	if n <= 1 {
		return []alertd.Frequency{{ID: alertd.DefaultFrequency, Name: "Weekly", Schedule: "0 8 * * 1"}}
	}
	frequencies := make([]alertd.Frequency, n)
	for i := range frequencies {
		id := fmt.Sprintf("f%d", i+1)
		frequencies[i] = alertd.Frequency{ID: id, Name: id, Schedule: "0 8 * * *"}
	}
	return frequencies
}

// frequencyOf is the frequency of the i-th of subscribers bench
// subscribers spread over frequencies in blocks: the first block reads the
// first, and so on, so that one frequency's readers are subscribers
// 0..block-1 as the sink's checks count them.
func frequencyOf(i, subscribers int, frequencies []alertd.Frequency) string {
	return frequencies[i*len(frequencies)/subscribers].ID
}

// fillDatabase creates the database at path with confirmed subscribers,
// spread over the frequencies, and ten new reports, so that the next
// digest of each frequency goes to all its readers.
func fillDatabase(ctx context.Context, path string, subscribers int, frequencies []alertd.Frequency) error {
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	start := time.Now()
	err = addSubscribersAndReports(ctx, st, subscribers, frequencies, start)
	// Closing checkpoints the setup's writes, as a running service would
	// have long before its digest is due.
	if err = errors.Join(err, st.Close()); err != nil {
		return err
	}
	fmt.Printf("setup: %d confirmed subscribers in %s\n", subscribers, time.Since(start).Round(time.Millisecond))
	return nil
}

func addSubscribersAndReports(ctx context.Context, st *store.Store, subscribers int, frequencies []alertd.Frequency, now time.Time) error {
	const chunk = 10_000
	for done := 0; done < subscribers; done += chunk {
		var rows []store.Imported
		for i := done; i < min(done+chunk, subscribers); i++ {
			email := subscriberAddress(i)
			row := store.NewImported(email, email, "", nil, frequencyOf(i, subscribers, frequencies), now)
			row.Lang = "en"
			rows = append(rows, row)
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

// benchCompile fills a fresh database with confirmed subscribers, spread
// over n frequencies, and a few new reports, then times each frequency's
// digest compile: the transaction that records the digest, its reports
// and one delivery per reader of the frequency.
func benchCompile(path string, subscribers, n int) error {
	ctx := context.Background()
	if path == "" {
		dir, err := os.MkdirTemp("", "alertd-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "alertd.db")
	}
	frequencies := benchFrequencies(n)
	if err := fillDatabase(ctx, path, subscribers, frequencies); err != nil {
		return err
	}
	return compileDigests(ctx, path, subscribers, frequencies)
}

// compileDigests compiles the next digest of each frequency in the
// database at path, which together must go to that many subscribers, and
// times each.
func compileDigests(ctx context.Context, path string, subscribers int, frequencies []alertd.Frequency) error {
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return err
	}
	defer st.Close()

	cat := catalogue.NewService(st, catalogue.Rules{FirstWindow: 7 * 24 * time.Hour, Frequencies: frequencies}, time.Now, func() {})
	recipients := 0
	for _, f := range frequencies {
		start := time.Now()
		d, created, err := cat.CompileDigest(ctx, f.ID)
		elapsed := time.Since(start)
		if err != nil {
			return err
		}
		if !created {
			return fmt.Errorf("frequency %s compiled no digest", f.ID)
		}
		recipients += d.Recipients
		fmt.Printf("compile: frequency %s, digest %d, %d reports, %d deliveries recorded in %s\n",
			f.ID, d.ID, d.Reports, d.Recipients, elapsed.Round(time.Millisecond))
	}
	if recipients != subscribers {
		return fmt.Errorf("%d deliveries in all, want one to each of %d subscribers", recipients, subscribers)
	}
	return nil
}
