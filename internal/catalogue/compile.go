package catalogue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// selection is the rule of which reports the next digest announces: those
// published by now and not announced yet (in no digest, not backfilled,
// not retracted); and, for the first digest ever, only those published
// within the first window, the archive before it being backfilled then so
// that no later digest brings it after all, nor a restore of a report
// retracted now.
func (s *Service) selection(tx *store.Tx, now time.Time) (store.DigestSelection, error) {
	compiled, err := tx.AnyDigest()
	if err != nil || compiled {
		return store.DigestSelection{Until: now}, err
	}
	return store.DigestSelection{Since: now.Add(-s.rules.FirstWindow), Until: now, ArchiveOlder: true}, nil
}

// NextDigest lists, newest first, the reports the next digest would
// announce, changing nothing.
func (s *Service) NextDigest(ctx context.Context) ([]alertd.Report, error) {
	now := s.now()
	var reports []alertd.Report
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		sel, err := s.selection(tx, now)
		if err != nil {
			return err
		}
		reports, err = tx.DigestCandidates(sel)
		return err
	})
	return reports, err
}

// CompileDigest records, in one transaction, the next digest, the reports
// it announces and one delivery per confirmed subscriber whose topics match
// them, and hands the deliveries to the outbox; created is false when no
// report is due, and then nothing is recorded.
func (s *Service) CompileDigest(ctx context.Context) (d alertd.Digest, created bool, err error) {
	now := s.now()
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		sel, err := s.selection(tx, now)
		if err != nil {
			return err
		}
		d, created, err = tx.CompileDigest(sel)
		return err
	})
	if err != nil {
		return alertd.Digest{}, false, fmt.Errorf("compile digest: %w", err)
	}
	if created && d.Recipients > 0 {
		s.queued()
	}
	return d, created, nil
}

// Digest returns the digest with the id and its delivery counts; an error of
// code NotFound when there is none.
func (s *Service) Digest(ctx context.Context, id int64) (alertd.Digest, error) {
	d, err := s.store.Digest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, errNoDigest
	}
	return d, err
}

var errNoDigest = alertd.Errorf(alertd.NotFound, "no digest with this id")

// Digests lists the most recent digests, newest first, with their counts.
func (s *Service) Digests(ctx context.Context, limit int) ([]alertd.Digest, error) {
	return s.store.Digests(ctx, limit)
}
