package catalogue

import (
	"context"
	"errors"
	"slices"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// ArchivedDigests lists the digests of the public archive (those sent, see
// alertd.Digest.Archived) newest first: at most limit, those older than the
// digest with id before when it is positive. Reports counts each one's
// reports not retracted.
func (s *Service) ArchivedDigests(ctx context.Context, limit int, before int64) ([]alertd.Digest, error) {
	return s.store.ArchivedDigests(ctx, limit, before)
}

// ArchivedDigest returns the digest with the id as the public archive shows
// it; an error of code NotFound when there is none or it was never sent.
// Its reports are read as its mail reads them, retracted ones left out.
func (s *Service) ArchivedDigest(ctx context.Context, id int64) (alertd.ArchivedDigest, error) {
	d, err := s.store.Digest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !d.Archived()) {
		return alertd.ArchivedDigest{}, errNoDigest
	}
	if err != nil {
		return alertd.ArchivedDigest{}, err
	}
	reports, err := s.store.DigestReports(ctx, id)
	if err != nil {
		return alertd.ArchivedDigest{}, err
	}
	a := alertd.ArchivedDigest{ID: d.ID, SentAt: d.CreatedAt, Updated: d.CreatedAt, Frequency: d.Frequency}
	a.Reports = slices.DeleteFunc(reports, func(r alertd.Report) bool {
		if r.Status() != alertd.ReportRetracted {
			return false
		}
		if r.RetractedAt.After(a.Updated) {
			a.Updated = *r.RetractedAt
		}
		return true
	})
	return a, nil
}
